// Dht, server side: answering the six Kademlia requests on a stream, storing provider records
// and values (acknowledged only once the persistence layer says they are durable), and reading
// records back while they are live.
#include <algorithm>
#include <chrono>

#include "keel/host/address_groups.hpp"
#include "keel/host/circuit_address.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/kad/dht.hpp"
#include "keel/net/condition.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/log.hpp"

namespace keel::kad {

namespace asio = net::asio;
using net::awaitable;

// ---- server side ---------------------------------------------------------------------------

// Completed (on the DHT's executor) when the persistence layer reports a provider record durable.
struct Dht::DurableAck : std::enable_shared_from_this<Dht::DurableAck> {
    explicit DurableAck(asio::any_io_executor ex) : reported(ex) {}
    // Called (on any thread) by the persistence layer.
    DhtPersistence::Ack completion(asio::any_io_executor ex, std::function<void()> on_failure) {
        expected = true;
        return [self = shared_from_this(), ex, on_failure](bool durable) {
            asio::post(ex, [self, durable, on_failure]() {
                self->done = true;
                self->failed = !durable;
                if (!durable && on_failure) on_failure();
                self->reported.notify();
            });
        };
    }
    bool expected = false;
    bool done = false;
    bool failed = false;    // the write did not commit: nothing may be acknowledged
    bool rejected = false;  // the request was refused: the stream is reset, not answered
    net::Condition reported;
};

awaitable<void> Dht::serve(std::shared_ptr<net::YamuxStream> stream,
                           std::shared_ptr<Connection> conn) {
    ++stats_.inbound_streams;
    for (std::size_t i = 0; i < config_.max_rpcs_per_stream; ++i) {
        stream->set_deadline(net::Clock::now() + config_.stream_idle_timeout);
        auto bytes = co_await net::read_length_prefixed(*stream, max_request_size);
        // The answer's write has the session's write_timeout, as before; the durable wait its own.
        stream->set_deadline(net::Clock::time_point::max());
        if (!bytes) {
            if (bytes.error() != asio::error::eof) {
                log().info("event=kad_bad_request peer={} error=\"{}\"", conn->peer,
                           bytes.error().message());
                stream->reset();
            }
            co_return;
        }
        auto request = decode_message(*bytes);
        if (!request) {
            log().info("event=kad_bad_request peer={} error=\"{}\"", conn->peer,
                       request.error().message());
            stream->reset();
            co_return;
        }
        table_.mark_seen(conn->peer);
        bool is_store =
            request->type == MessageType::add_provider || request->type == MessageType::put_value;
        if (is_store && !store_allowed(*conn)) {
            stats_.served.add(request->type, RpcOutcome::rate_limited);
            log().debug("event=kad_store_refused peer={} reason=rate", conn->peer);
            stream->reset();
            co_return;
        }
        auto ack = std::make_shared<DurableAck>(host_.get_executor());
        auto response = handle_request(*request, conn->peer, ack);
        if (ack->rejected) {
            // A refusal must not look like an acknowledgement (ADD_PROVIDER is acknowledged by
            // the answer to the next request) nor leave the sender waiting (PUT_VALUE).
            stream->reset();
            co_return;
        }
        if (ack->expected) {
            // Answer nothing on this stream until the record is durable: the PUT_VALUE echo, or
            // the answer to the request after an ADD_PROVIDER, is the acknowledgement.
            auto reported = [&] { return ack->done; };
            co_await ack->reported.until(reported, net::Clock::now() + config_.durable_timeout);
            if (!ack->done || ack->failed) {
                stats_.served.add(request->type,
                                  ack->done ? RpcOutcome::write_failed : RpcOutcome::write_timeout);
                log().warn("event=kad_store_not_acknowledged peer={} type={} reason={}", conn->peer,
                           message_type_name(request->type),
                           ack->done ? "write_failed" : "write_timeout");
                stream->reset();
                co_return;
            }
        }
        if (response) {
            fit_message(*response);
            if (auto ec = co_await net::write_length_prefixed(*stream, encode_message(*response)))
                co_return;
        }
    }
}

bool Dht::store_allowed(const Connection& conn) {
    auto now = net::Clock::now();
    if (!store_rate_per_peer_.take(conn.peer, now)) return false;
    // A relayed connection's address starts with its relay's: what it stores counts against the
    // relay's host, shared by every peer that relay brings us (the source's own is unknown).
    auto endpoint = tcp_endpoint(conn.remote_addr);
    if (!endpoint) return true;
    auto ip = canonical_address(endpoint->address());
    if (config_.store_limits_exempt_loopback && ip.is_loopback()) return true;
    return store_rate_per_ip_.take(host_of(ip), now);
}

std::vector<Multiaddr> Dht::shareable(std::vector<Multiaddr> addrs) const {
    if (config_.share_private_addrs) return addrs;
    std::erase_if(addrs,
                  [](const Multiaddr& a) { return !is_public_address(a) && !is_circuit(a); });
    return addrs;
}

std::vector<KadPeer> Dht::closer_peers(BytesView key, const PeerId& exclude) const {
    std::vector<KadPeer> out;
    for (const auto& id : table_.closest(kad_key(key), config_.k + 1)) {
        if (id == exclude || out.size() >= config_.k) continue;
        KadPeer peer{id, shareable(host_.peer_store().addrs(id)), host_.is_connected(id)};
        if (peer.addrs.empty()) continue;
        if (peer.addrs.size() > max_addrs_per_peer) peer.addrs.resize(max_addrs_per_peer);
        out.push_back(std::move(peer));
    }
    return out;
}

std::optional<KadMessage> Dht::handle_request(const KadMessage& req, const PeerId& from,
                                              const std::shared_ptr<DurableAck>& ack) {
    KadMessage resp;
    resp.type = req.type;
    resp.key = req.key;
    switch (req.type) {
        case MessageType::find_node:
            resp.closer_peers = closer_peers(req.key, from);
            stats_.served.add(req.type, RpcOutcome::ok);
            return resp;
        case MessageType::get_providers:
            for (auto& p : providers_.get(req.key, now_ms()))
                resp.provider_peers.push_back(KadPeer{p.provider, shareable(p.addrs), false});
            resp.closer_peers = closer_peers(req.key, from);
            stats_.served.add(req.type, RpcOutcome::ok);
            return resp;
        case MessageType::add_provider: {
            // Only a provider may announce itself: other entries are forgeries or relays we
            // cannot verify. The first entry naming the sender is its announcement; more of them
            // (a request may carry 64) would only write the same record again, each one a store
            // write paid by one rate token.
            const auto own = std::find_if(req.provider_peers.begin(), req.provider_peers.end(),
                                          [&](const KadPeer& p) { return p.id == from; });
            const auto forged = std::count_if(req.provider_peers.begin(), req.provider_peers.end(),
                                              [&](const KadPeer& p) { return p.id != from; });
            if (forged > 0)
                log().debug("event=kad_add_provider_rejected peer={} entries={} reason=not_sender",
                            from, forged);
            bool stored = false;
            if (own != req.provider_peers.end()) {
                auto addrs = worth_keeping(own->addrs, from);
                if (addrs.empty()) addrs = host_.peer_store().addrs(from);
                for (const auto& a : addrs) host_.peer_store().add_address(from, a);
                // A record keeps a few addresses (the peer store keeps the rest while the peer is
                // known): each one is paid for once per key, for 48 hours.
                if (addrs.size() > max_addrs_per_provider) addrs.resize(max_addrs_per_provider);
                stored = store_provider(
                    req.key, ProviderEntry{from, addrs, now_ms() + provider_validity_ms}, ack);
            }
            stats_.served.add(req.type, stored ? RpcOutcome::ok : RpcOutcome::rejected);
            if (!stored && ack) ack->rejected = true;
            return std::nullopt;  // ADD_PROVIDER has no response
        }
        case MessageType::get_value: {
            if (auto record = live_record(req.key)) resp.record = std::move(*record);
            resp.closer_peers = closer_peers(req.key, from);
            stats_.served.add(req.type, RpcOutcome::ok);
            return resp;
        }
        case MessageType::put_value: {
            if (!req.record || req.record->key != req.key) {
                stats_.served.add(req.type, RpcOutcome::rejected);
                if (ack) ack->rejected = true;
                return std::nullopt;
            }
            if (auto ec = validators_.validate(req.record->key, req.record->value)) {
                log().info("event=kad_put_rejected peer={} error=\"{}\"", from, ec.message());
                stats_.served.add(req.type, RpcOutcome::rejected);
                if (ack) ack->rejected = true;
                return std::nullopt;
            }
            auto it = records_.find(req.key);
            bool replace = it == records_.end();
            if (!replace) {
                std::vector<Bytes> values{it->second.value, req.record->value};
                replace = validators_.select(req.key, values) == std::size_t{1};
            }
            if (replace) {
                Record r = *req.record;
                r.time_received = std::chrono::system_clock::now();
                // The publisher's ttl (rust) is honoured when shorter than our maximum age.
                auto age = r.ttl > 0 ? std::min<std::int64_t>(std::int64_t{r.ttl} * 1000,
                                                              max_record_age_ms)
                                     : max_record_age_ms;
                r.expires_ms = now_ms() + age;
                if (!store_record(std::move(r), ack)) {
                    log().info("event=kad_put_rejected peer={} reason=full records={} bytes={}",
                               from, records_.size(), record_bytes_);
                    stats_.served.add(req.type, RpcOutcome::full);
                    if (ack) ack->rejected = true;
                    return std::nullopt;
                }
            }
            stats_.served.add(req.type, RpcOutcome::ok);
            return req;  // the spec: echo the request back (once durable, see serve())
        }
        case MessageType::ping:
            stats_.served.add(req.type, RpcOutcome::ok);
            return resp;
    }
    return std::nullopt;
}

bool Dht::store_provider(const Bytes& key, ProviderEntry entry,
                         const std::shared_ptr<DurableAck>& ack) {
    auto copy = entry;
    if (!providers_.add(key, std::move(entry))) return false;
    if (!persistence_.provider_added) return true;
    DhtPersistence::Ack on_durable;
    if (ack)
        // A record whose write failed is taken back: it must not be served as if stored.
        on_durable = ack->completion(host_.get_executor(),
                                     [this, key, provider = copy.provider, alive = alive_]() {
                                         if (*alive) providers_.remove(key, provider);
                                     });
    persistence_.provider_added(key, copy, std::move(on_durable));
    return true;
}

namespace {
std::size_t record_cost(const Record& r) {
    return r.key.size() + r.value.size() + 96;
}
}  // namespace

bool Dht::store_record(Record record, const std::shared_ptr<DurableAck>& ack) {
    auto it = records_.find(record.key);
    std::size_t freed = it == records_.end() ? 0 : record_cost(it->second);
    std::size_t cost = record_cost(record);
    if (it == records_.end() && records_.size() >= config_.max_records) return false;
    if (record_bytes_ - std::min(record_bytes_, freed) + cost > config_.max_record_bytes)
        return false;
    record_bytes_ = record_bytes_ - std::min(record_bytes_, freed) + cost;
    records_[record.key] = record;
    if (!persistence_.record_stored) return true;
    DhtPersistence::Ack on_durable;
    if (ack)
        on_durable =
            ack->completion(host_.get_executor(), [this, key = record.key, alive = alive_]() {
                if (!*alive) return;
                if (auto r = records_.find(key); r != records_.end()) {
                    record_bytes_ -= std::min(record_bytes_, record_cost(r->second));
                    records_.erase(r);
                }
            });
    persistence_.record_stored(record, std::move(on_durable));
    return true;
}

void Dht::restore_provider(const Bytes& key, ProviderEntry entry) {
    for (const auto& a : entry.addrs) host_.peer_store().add_address(entry.provider, a);
    providers_.add(key, std::move(entry));
}

void Dht::restore_record(Record record) {
    if (record.expires_ms > 0 && record.expires_ms <= now_ms()) return;  // outlived its age
    record_bytes_ += record_cost(record);
    records_[record.key] = std::move(record);
}

std::optional<Record> Dht::live_record(const Bytes& key) {
    auto it = records_.find(key);
    if (it == records_.end()) return std::nullopt;
    auto now = now_ms();
    if (it->second.expires_ms > 0 && it->second.expires_ms <= now) {
        record_bytes_ -= std::min(record_bytes_, record_cost(it->second));
        records_.erase(it);
        return std::nullopt;
    }
    Record out = it->second;
    // Sent with the lifetime it has left, when its publisher gave one.
    if (out.ttl > 0 && out.expires_ms > 0)
        out.ttl =
            static_cast<std::uint32_t>(std::max<std::int64_t>(1, (out.expires_ms - now) / 1000));
    return out;
}

void Dht::remove_expired_records(std::int64_t now) {
    for (auto it = records_.begin(); it != records_.end();) {
        if (it->second.expires_ms > 0 && it->second.expires_ms <= now) {
            record_bytes_ -= std::min(record_bytes_, record_cost(it->second));
            it = records_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace keel::kad
