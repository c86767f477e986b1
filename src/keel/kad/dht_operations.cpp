// Dht, the public operations built on lookups and fan-out: closest peers, find a peer, provide,
// find providers, put and get a value (with quorum).
#include <algorithm>
#include <chrono>

#include "keel/kad/dht.hpp"
#include "keel/kad/kad_errc.hpp"
#include "keel/net/log.hpp"

namespace keel::kad {

namespace asio = net::asio;
using net::awaitable;

awaitable<LookupResult> Dht::get_closest_peers(Bytes key) {
    co_return co_await lookup(std::move(key), MessageType::find_node, {});
}

awaitable<net::result<std::vector<Multiaddr>>> Dht::find_peer(PeerId peer) {
    if (host_.is_connected(peer))
        if (auto info = host_.peer_store().get(peer)) co_return info->addrs;
    std::vector<Multiaddr> found;
    co_await lookup(peer.bytes(), MessageType::find_node,
                    [&](const PeerId&, const KadMessage& resp) {
                        for (const auto& p : resp.closer_peers) {
                            if (p.id == peer && !p.addrs.empty()) {
                                found = p.addrs;
                                return true;
                            }
                        }
                        return false;
                    });
    if (found.empty()) co_return make_error_code(kad_errc::not_found);
    co_return found;
}

awaitable<net::result<Dht::ProvideResult>> Dht::provide(Bytes key) {
    if (config_.server_mode)
        store_provider(key, ProviderEntry{host_.peer_id(), host_.advertised_addrs(),
                                          now_ms() + provider_validity_ms});
    provided_[key] = now_ms();
    auto closest = co_await lookup(key, MessageType::find_node, {});
    if (closest.closest.empty()) co_return make_error_code(kad_errc::no_peers);
    KadMessage msg;
    msg.type = MessageType::add_provider;
    msg.key = key;
    msg.provider_peers.push_back(KadPeer{host_.peer_id(), host_.advertised_addrs(), true});
    auto answers = co_await send_to_all(closest.closest, std::move(msg));
    ProvideResult result;
    for (const auto& answer : answers) {
        if (!answer) continue;
        ++result.sent;
        if (answer->type == MessageType::ping) ++result.acknowledged;
    }
    log().info("event=provided key_bytes={} sent={} acknowledged={}", key.size(), result.sent,
               result.acknowledged);
    co_return result;
}

awaitable<std::vector<ProviderEntry>> Dht::find_providers(
    Bytes key, std::size_t count, std::function<void(const ProviderEntry&)> on_found) {
    std::vector<ProviderEntry> found;
    std::set<PeerId> seen;
    auto take = [&](const ProviderEntry& e) {
        if (!seen.insert(e.provider).second) return;
        found.push_back(e);
        if (on_found) on_found(e);
    };
    for (const auto& e : providers_.get(key, now_ms(), count)) take(e);
    if (found.size() >= count) co_return found;
    co_await lookup(key, MessageType::get_providers,
                    [&](const PeerId& from, const KadMessage& resp) {
                        for (const auto& p : resp.provider_peers) {
                            auto addrs = worth_keeping(p.addrs, from);
                            for (const auto& a : addrs) host_.peer_store().add_address(p.id, a);
                            take(ProviderEntry{p.id, std::move(addrs), 0});
                        }
                        return found.size() >= count;
                    });
    co_return found;
}

awaitable<net::result<std::size_t>> Dht::put_value(Bytes key, Bytes value, std::size_t quorum) {
    if (auto ec = validators_.validate(key, value)) co_return ec;
    Record record{key, value, std::chrono::system_clock::now(), {}, 0, 0};
    if (config_.server_mode) store_record(record);
    auto closest = co_await lookup(key, MessageType::find_node, {});
    KadMessage msg;
    msg.type = MessageType::put_value;
    msg.key = key;
    msg.record = record;
    auto answers = co_await send_to_all(closest.closest, std::move(msg));
    std::size_t stored = 0;
    for (const auto& answer : answers)
        if (answer && answer->record && answer->record->value == value) ++stored;
    if (stored < quorum) co_return make_error_code(kad_errc::quorum_failed);
    co_return stored;
}

awaitable<net::result<Bytes>> Dht::get_value(Bytes key, std::size_t quorum) {
    std::vector<Bytes> values;
    if (auto record = live_record(key)) values.push_back(record->value);
    co_await lookup(key, MessageType::get_value, [&](const PeerId& from, const KadMessage& resp) {
        if (!resp.record || resp.record->key != key) return false;
        if (auto ec = validators_.validate(key, resp.record->value)) {
            log().info("event=kad_invalid_record_received peer={} error=\"{}\"", from,
                       ec.message());
            return false;
        }
        values.push_back(resp.record->value);
        return values.size() >= std::max<std::size_t>(quorum, 1) + 2;  // a few extra to compare
    });
    if (values.size() < quorum || values.empty()) co_return make_error_code(kad_errc::not_found);
    auto best = validators_.select(key, values);
    if (!best) co_return make_error_code(kad_errc::unknown_namespace);
    co_return values[*best];
}

}  // namespace keel::kad
