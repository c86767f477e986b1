#include "keel/relay/relay_messages.hpp"

#include <keel/proto/relay.pb.h>

#include "keel/crypto/signed_envelope.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/relay/relay_config.hpp"

namespace keel::relay {

net::awaitable<net::error_code> read_relay_message(net::ByteStream& stream,
                                                   google::protobuf::MessageLite& message,
                                                   net::Duration timeout) {
    auto bytes =
        co_await net::with_deadline(net::read_length_prefixed(stream, max_relay_message), timeout);
    if (!bytes) co_return bytes.error();
    // Partial, then the required fields: ParseFromArray would log every malformed message.
    if (!message.ParsePartialFromArray(bytes->data(), static_cast<int>(bytes->size())) ||
        !message.IsInitialized())
        co_return make_error_code(net::net_errc::malformed_message);
    co_return net::error_code{};
}

net::awaitable<net::error_code> write_relay_message(net::ByteStream& stream,
                                                    const google::protobuf::MessageLite& message) {
    co_return co_await net::write_length_prefixed(stream, to_bytes(message.SerializeAsString()));
}

Bytes reservation_voucher(const Ed25519KeyPair& relay_key, const PeerId& relay, const PeerId& peer,
                          std::chrono::system_clock::time_point expires) {
    pb::ReservationVoucher voucher;
    voucher.set_relay(std::string(as_chars(relay.bytes())));
    voucher.set_peer(std::string(as_chars(peer.bytes())));
    voucher.set_expiration(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count()));
    return seal_envelope(relay_key, voucher_domain, voucher_payload_type,
                         to_bytes(voucher.SerializeAsString()));
}

}  // namespace keel::relay
