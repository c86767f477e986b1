#include "keel/protocols/identify.hpp"

#include <keel/proto/identify.pb.h>

#include <algorithm>

#include "keel/base/varint.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/net_errc.hpp"

namespace keel::protocols {

Bytes encode_identify(const IdentifyInfo& info) {
    pb::Identify msg;
    msg.set_protocolversion(info.protocol_version);
    msg.set_agentversion(info.agent_version);
    if (info.public_key) {
        auto key = info.public_key->marshal();
        msg.set_publickey(key.data(), key.size());
    }
    for (const auto& addr : info.listen_addrs) {
        auto bytes = addr.to_bytes();
        msg.add_listenaddrs(bytes.data(), bytes.size());
    }
    if (info.observed_addr) {
        auto bytes = info.observed_addr->to_bytes();
        msg.set_observedaddr(bytes.data(), bytes.size());
    }
    for (const auto& p : info.protocols) msg.add_protocols(p);
    return to_bytes(msg.SerializeAsString());
}

Bytes with_observed_addr(BytesView shared, const Multiaddr& observed) {
    constexpr std::uint8_t observed_addr_key = 4 << 3 | 2;  // field 4, length-delimited
    auto addr = observed.to_bytes();
    Bytes out;
    out.reserve(shared.size() + 1 + max_uvarint_size + addr.size());
    out.assign(shared.begin(), shared.end());
    out.push_back(observed_addr_key);
    append_uvarint(out, addr.size());
    out.insert(out.end(), addr.begin(), addr.end());
    return out;
}

namespace {

// What we keep of a (possibly merged) identify record: past the limits, addresses and protocols
// are dropped, not the peer (go and rust peers listening on many interfaces send more).
boost::system::result<IdentifyInfo> to_info(const pb::Identify& msg) {
    IdentifyInfo info;
    info.protocol_version = msg.protocolversion();
    info.agent_version = msg.agentversion();
    if (msg.has_publickey()) {
        auto key = PublicKey::unmarshal(as_bytes(msg.publickey()));
        if (!key) return make_error_code(net::net_errc::malformed_message);
        info.public_key = std::move(*key);
    }
    for (const auto& raw : msg.listenaddrs()) {
        if (info.listen_addrs.size() == max_identify_addrs) break;
        if (auto addr = Multiaddr::from_bytes(as_bytes(raw))) info.listen_addrs.push_back(*addr);
    }
    if (msg.has_observedaddr()) {
        if (auto addr = Multiaddr::from_bytes(as_bytes(msg.observedaddr())))
            info.observed_addr = *addr;
    }
    auto protocols = std::min<std::size_t>(msg.protocols_size(), max_identify_protocols);
    info.protocols.assign(msg.protocols().begin(), msg.protocols().begin() + protocols);
    return info;
}

}  // namespace

boost::system::result<IdentifyInfo> decode_identify(BytesView message) {
    pb::Identify msg;
    if (message.size() > max_identify_message ||
        !msg.ParseFromArray(message.data(), static_cast<int>(message.size())))
        return make_error_code(net::net_errc::malformed_message);
    return to_info(msg);
}

net::awaitable<net::error_code> send_identify(net::ByteStream& stream, const IdentifyInfo& ours) {
    if (auto ec = co_await net::write_length_prefixed(stream, encode_identify(ours))) co_return ec;
    co_return co_await stream.close_write();
}

net::awaitable<net::error_code> send_identify_record(net::ByteStream& stream, Bytes record) {
    if (auto ec = co_await net::write_length_prefixed(stream, record)) co_return ec;
    co_return co_await stream.close_write();
}

net::awaitable<net::result<IdentifyInfo>> receive_identify(net::ByteStream& stream) {
    // go-libp2p sends a record larger than 2 KiB as two messages (the second holds only the
    // signed peer record); the spec's protobuf semantics merge them: scalars of a later message
    // win, repeated fields append. Read until the writer closes, within one byte budget.
    pb::Identify merged;
    std::size_t total = 0;
    for (std::size_t n = 0; n < max_identify_messages; ++n) {
        auto message = co_await net::read_length_prefixed(stream, max_identify_message - total);
        if (!message) {
            if (n > 0 && message.error() == net::asio::error::eof) break;
            co_return message.error();
        }
        total += message->size();
        pb::Identify part;
        if (!part.ParseFromArray(message->data(), static_cast<int>(message->size())))
            co_return make_error_code(net::net_errc::malformed_message);
        merged.MergeFrom(part);
    }
    auto info = to_info(merged);
    if (!info) co_return info.error();
    co_return std::move(*info);
}

}  // namespace keel::protocols
