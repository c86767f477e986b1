#include "keel/kad/kad_message.hpp"

#include <keel/proto/kad.pb.h>

#include "keel/kad/kad_errc.hpp"
#include "keel/kad/time_received.hpp"

namespace keel::kad {

std::string_view message_type_name(MessageType type) {
    switch (type) {
        case MessageType::put_value:
            return "PUT_VALUE";
        case MessageType::get_value:
            return "GET_VALUE";
        case MessageType::add_provider:
            return "ADD_PROVIDER";
        case MessageType::get_providers:
            return "GET_PROVIDERS";
        case MessageType::find_node:
            return "FIND_NODE";
        case MessageType::ping:
            return "PING";
    }
    return "UNKNOWN";
}

namespace {

void encode_peer(const KadPeer& peer, pb::Message::Peer* out) {
    out->set_id(peer.id.bytes().data(), peer.id.bytes().size());
    for (const auto& addr : peer.addrs) {
        auto bytes = addr.to_bytes();
        out->add_addrs(bytes.data(), bytes.size());
    }
    out->set_connection(peer.connected ? pb::Message::CONNECTED : pb::Message::NOT_CONNECTED);
}

template <class Peers>
std::vector<KadPeer> decode_peers(const Peers& peers, std::size_t& dropped) {
    std::vector<KadPeer> out;
    for (const auto& p : peers) {
        auto id = PeerId::from_bytes(as_bytes(p.id()));
        if (!id) {
            ++dropped;
            continue;
        }
        KadPeer peer{*id, {}, p.connection() == pb::Message::CONNECTED};
        for (const auto& raw : p.addrs()) {
            if (peer.addrs.size() >= max_addrs_per_peer) {
                ++dropped;
                break;
            }
            // An empty multiaddr parses, but it is no address to dial or pass on.
            if (auto addr = Multiaddr::from_bytes(as_bytes(raw)); addr && !addr->empty())
                peer.addrs.push_back(*addr);
            else
                ++dropped;
        }
        out.push_back(std::move(peer));
    }
    return out;
}

}  // namespace

Bytes encode_message(const KadMessage& message) {
    pb::Message msg;
    msg.set_type(static_cast<pb::Message::MessageType>(message.type));
    msg.set_key(message.key.data(), message.key.size());
    if (message.record) {
        auto* r = msg.mutable_record();
        r->set_key(message.record->key.data(), message.record->key.size());
        r->set_value(message.record->value.data(), message.record->value.size());
        if (message.record->time_received)
            r->set_timereceived(rfc3339(*message.record->time_received));
        if (!message.record->publisher.empty())
            r->set_publisher(message.record->publisher.data(), message.record->publisher.size());
        if (message.record->ttl > 0) r->set_ttl(message.record->ttl);
    }
    for (const auto& p : message.closer_peers) encode_peer(p, msg.add_closerpeers());
    for (const auto& p : message.provider_peers) encode_peer(p, msg.add_providerpeers());
    return to_bytes(msg.SerializeAsString());
}

void fit_message(KadMessage& message, std::size_t limit) {
    auto size = [&] { return encode_message(message).size(); };
    if (size() <= limit) return;
    for (std::size_t cap : {8, 4, 2, 1}) {
        for (auto* list : {&message.closer_peers, &message.provider_peers})
            for (auto& p : *list)
                if (p.addrs.size() > cap) p.addrs.resize(cap);
        if (size() <= limit) return;
    }
    // Peers are listed closest first: drop from the end of the longer list.
    while (size() > limit && (!message.closer_peers.empty() || !message.provider_peers.empty())) {
        auto& list = message.closer_peers.size() >= message.provider_peers.size()
                         ? message.closer_peers
                         : message.provider_peers;
        list.pop_back();
    }
}

boost::system::result<KadMessage> decode_message(BytesView bytes) {
    if (bytes.size() > max_message_size) return make_error_code(kad_errc::message_too_large);
    pb::Message msg;
    if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return make_error_code(kad_errc::malformed_message);
    if (msg.type() < pb::Message::PUT_VALUE || msg.type() > pb::Message::PING)
        return make_error_code(kad_errc::malformed_message);
    if (msg.key().size() > max_key_size ||
        static_cast<std::size_t>(msg.closerpeers_size()) > max_peers_per_message ||
        static_cast<std::size_t>(msg.providerpeers_size()) > max_peers_per_message)
        return make_error_code(kad_errc::message_too_large);
    KadMessage out;
    out.type = static_cast<MessageType>(msg.type());
    out.key = to_bytes(msg.key());
    if (msg.has_record()) {
        if (msg.record().key().size() > max_key_size ||
            msg.record().value().size() > max_record_value_size)
            return make_error_code(kad_errc::message_too_large);
        if (msg.record().publisher().size() > max_key_size)
            return make_error_code(kad_errc::message_too_large);
        out.record = Record{to_bytes(msg.record().key()),
                            to_bytes(msg.record().value()),
                            parse_rfc3339(msg.record().timereceived()),
                            to_bytes(msg.record().publisher()),
                            msg.record().ttl(),
                            0};
    }
    out.closer_peers = decode_peers(msg.closerpeers(), out.dropped_entries);
    out.provider_peers = decode_peers(msg.providerpeers(), out.dropped_entries);
    return out;
}

}  // namespace keel::kad
