#include "keel/p2pd/control_messages.hpp"

#include "keel/base/codec_errc.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/framing.hpp"

namespace keel::p2pd {

net::awaitable<net::error_code> write_message(net::ByteStream& stream,
                                              const google::protobuf::MessageLite& message) {
    std::string bytes = message.SerializeAsString();
    co_return co_await net::with_deadline(net::write_length_prefixed(stream, as_bytes(bytes)),
                                          control_write_timeout);
}

net::awaitable<net::result<pb::p2pd::Request>> read_request(net::ByteStream& stream,
                                                            std::size_t max_size) {
    auto bytes = co_await net::read_length_prefixed(stream, max_size);
    if (!bytes) co_return bytes.error();
    pb::p2pd::Request request;
    // Partial parse, then the required-field check: a plain parse would have libprotobuf log the
    // missing field to stderr, and a library does not print.
    if (!request.ParsePartialFromArray(bytes->data(), static_cast<int>(bytes->size())) ||
        !request.IsInitialized())
        co_return make_error_code(codec_errc::invalid_value);
    co_return request;
}

pb::p2pd::Response ok_response() {
    pb::p2pd::Response response;
    response.set_type(pb::p2pd::Response::OK);
    return response;
}

pb::p2pd::Response error_response(std::string_view message) {
    pb::p2pd::Response response;
    response.set_type(pb::p2pd::Response::ERROR);
    response.mutable_error()->set_msg(std::string(message));
    return response;
}

std::optional<PeerId> peer_id_field(const std::string& bytes) {
    auto peer = PeerId::from_bytes(as_bytes(bytes));
    if (!peer) return std::nullopt;
    return *peer;
}

pb::p2pd::PeerInfo peer_info(const PeerId& peer, const std::vector<Multiaddr>& addrs) {
    pb::p2pd::PeerInfo info;
    info.set_id(peer.bytes().data(), peer.bytes().size());
    for (const auto& addr : addrs) {
        auto bytes = addr.to_bytes();
        info.add_addrs(bytes.data(), bytes.size());
    }
    return info;
}

}  // namespace keel::p2pd
