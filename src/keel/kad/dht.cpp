#include "keel/kad/dht.hpp"

#include "keel/kad/time_received.hpp"

#include <sodium.h>
#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "keel/host/staggered_dial.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/kad/kad_errc.hpp"
#include "keel/kad/time_received.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/log.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::kad {

namespace asio = net::asio;
using net::awaitable;

Dht::Dht(Host& host, DhtConfig config)
    : host_(host),
      config_(std::move(config)),
      table_(host.peer_id(),
             [&] {
                 auto t = config_.table;
                 t.k = config_.k;
                 return t;
             }()),
      providers_(config_.provider_limits),
      store_rate_per_peer_(config_.store_rate_per_peer, config_.store_burst_per_peer),
      store_rate_per_ip_(config_.store_rate_per_ip, config_.store_burst_per_ip),
      alive_(std::make_shared<bool>(true)),
      refresh_signal_(host.get_executor()),
      stopped_signal_(host.get_executor(), net::Clock::time_point::max()) {}

Dht::~Dht() {
    *alive_ = false;
}

std::int64_t Dht::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void Dht::count(std::map<std::string, std::uint64_t>& counters, MessageType type,
                std::string_view outcome) {
    std::string key(message_type_name(type));
    key += ' ';
    key += outcome;
    ++counters[key];
}

void Dht::start() {
    if (config_.server_mode) {
        host_.set_handler(config_.profile.kad_protocol,
                          [this](std::shared_ptr<net::YamuxStream> stream,
                                 std::shared_ptr<Connection> conn) -> awaitable<void> {
                              co_await serve(std::move(stream), std::move(conn));
                          });
    }
    auto alive = alive_;
    // Routing table members keep their addresses in the peer store, connected or not.
    host_.peer_store().add_pin(
        [this, alive](const PeerId& peer) { return *alive && table_.contains(peer); });
    host_.observe_identified([this, alive](const std::shared_ptr<Connection>& conn) {
        if (*alive) consider_for_table(conn);
    });
    asio::co_spawn(host_.get_executor(), refresh_loop(), asio::detached);
    log().info("event=dht_started mode={} protocol={} k={} alpha={}",
               config_.server_mode ? "server" : "client", config_.profile.kad_protocol, config_.k,
               config_.alpha);
}

void Dht::stop() {
    *alive_ = false;
    refresh_signal_.cancel();
    // Wakes the waits on it now, and any started later completes at once.
    stopped_signal_.expires_at(net::Clock::now());
}

// ---- routing table membership ------------------------------------------------------------

void Dht::consider_for_table(const std::shared_ptr<Connection>& conn) {
    auto info = host_.peer_store().get(conn->peer);
    if (!info) return;
    const auto& protocols = info->protocols;
    // Only DHT servers of our own network: a client, or a server of another DHT, stays out; a
    // member whose identify push no longer lists our protocol (server turned client) leaves.
    if (std::find(protocols.begin(), protocols.end(), config_.profile.kad_protocol) ==
        protocols.end()) {
        if (table_.evict(conn->peer)) {
            log().debug("event=routing_table_remove peer={} reason=no_longer_a_server",
                        conn->peer.short_string());
            if (persistence_.routing_changed) persistence_.routing_changed(conn->peer, false);
        }
        return;
    }
    auto outcome = table_.add(conn->peer, conn->remote_addr);
    switch (outcome.result) {
        case AddResult::added:
            log().debug("event=routing_table_add peer={} size={}", conn->peer.short_string(),
                        table_.size());
            if (persistence_.routing_changed) persistence_.routing_changed(conn->peer, true);
            break;
        case AddResult::bucket_full:
            asio::co_spawn(host_.get_executor(),
                           check_stale(*outcome.ping_candidate, conn->peer, conn->remote_addr),
                           asio::detached);
            break;
        case AddResult::rejected_diversity:
            log().debug("event=routing_table_reject peer={} reason=ip_diversity",
                        conn->peer.short_string());
            break;
        default:
            break;
    }
}

awaitable<void> Dht::check_stale(PeerId candidate, PeerId newcomer, std::optional<Multiaddr> addr) {
    auto alive = alive_;
    bool answered = false;
    auto conn = co_await net::with_deadline(
        [&]() -> awaitable<net::result<std::shared_ptr<Connection>>> {
            auto c = co_await host_.connect_peer(candidate);
            if (!c) co_return c.error().error;
            co_return *c;
        }(),
        config_.rpc_timeout);
    if (conn) {
        std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
        auto stream = co_await host_.new_stream(*conn, std::move(wanted));
        if (stream) {
            auto rtt =
                co_await net::with_deadline(protocols::ping_once(**stream), config_.rpc_timeout);
            answered = bool(rtt);
            co_await (*stream)->close_write();
        }
    }
    if (!*alive) co_return;
    if (answered) {
        table_.mark_seen(candidate);
        co_return;
    }
    log().info("event=routing_table_evict peer={} reason=unresponsive replaced_by={}",
               candidate.short_string(), newcomer.short_string());
    table_.evict(candidate);
    if (persistence_.routing_changed) persistence_.routing_changed(candidate, false);
    table_.add(newcomer, addr);
}

void Dht::restore_routing_peer(const PeerId& peer) {
    std::optional<Multiaddr> addr;
    if (auto info = host_.peer_store().get(peer); info && !info->addrs.empty())
        addr = info->addrs.front();
    table_.add(peer, addr);
}

// ---- server side ---------------------------------------------------------------------------

// Completed (on the DHT's executor) when the persistence layer reports a provider record durable.
struct Dht::DurableAck : std::enable_shared_from_this<Dht::DurableAck> {
    explicit DurableAck(asio::any_io_executor ex) : signal(ex) {}
    // Called (on any thread) by the persistence layer.
    DhtPersistence::Ack completion(asio::any_io_executor ex, std::function<void()> on_failure) {
        expected = true;
        return [self = shared_from_this(), ex, on_failure](bool durable) {
            asio::post(ex, [self, durable, on_failure]() {
                self->done = true;
                self->failed = !durable;
                if (!durable && on_failure) on_failure();
                self->signal.cancel();
            });
        };
    }
    bool expected = false;
    bool done = false;
    bool failed = false;    // the write did not commit: nothing may be acknowledged
    bool rejected = false;  // the request was refused: the stream is reset, not answered
    asio::steady_timer signal;
};

awaitable<void> Dht::serve(std::shared_ptr<net::YamuxStream> stream,
                           std::shared_ptr<Connection> conn) {
    ++stats_.inbound_streams;
    for (std::size_t i = 0; i < config_.max_rpcs_per_stream; ++i) {
        auto bytes = co_await net::with_deadline(
            net::read_length_prefixed(*stream, max_message_size), config_.stream_idle_timeout);
        if (!bytes) {
            if (bytes.error() != asio::error::eof) {
                log().info("event=kad_bad_request peer={} error=\"{}\"", conn->peer.short_string(),
                           bytes.error().message());
                stream->reset();
            }
            co_return;
        }
        auto request = decode_message(*bytes);
        if (!request) {
            log().info("event=kad_bad_request peer={} error=\"{}\"", conn->peer.short_string(),
                       request.error().message());
            stream->reset();
            co_return;
        }
        table_.mark_seen(conn->peer);
        bool is_store =
            request->type == MessageType::add_provider || request->type == MessageType::put_value;
        if (is_store && !store_allowed(*conn)) {
            count(stats_.served, request->type, "rate_limited");
            log().debug("event=kad_store_refused peer={} reason=rate", conn->peer.short_string());
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
            auto deadline = net::Clock::now() + config_.durable_timeout;
            while (!ack->done && net::Clock::now() < deadline) {
                ack->signal.expires_at(deadline);
                co_await ack->signal.async_wait(net::use_result);
            }
            if (!ack->done || ack->failed) {
                count(stats_.served, request->type, ack->done ? "write_failed" : "write_timeout");
                log().warn("event=kad_store_not_acknowledged peer={} type={} reason={}",
                           conn->peer.short_string(), message_type_name(request->type),
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
    auto endpoint = tcp_endpoint(conn.remote_addr);
    if (!endpoint) return true;
    auto ip = endpoint->address();
    if (config_.store_limits_exempt_loopback && ip.is_loopback()) return true;
    return store_rate_per_ip_.take(ip, now);
}

std::vector<KadPeer> Dht::closer_peers(BytesView key, const PeerId& exclude) const {
    std::vector<KadPeer> out;
    for (const auto& id : table_.closest(kad_key(key), config_.k + 1)) {
        if (id == exclude || out.size() >= config_.k) continue;
        auto info = host_.peer_store().get(id);
        if (!info || info->addrs.empty()) continue;
        KadPeer peer{id, info->addrs, !host_.connections_to(id).empty()};
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
            count(stats_.served, req.type, "ok");
            return resp;
        case MessageType::get_providers:
            for (auto& p : providers_.get(req.key, now_ms()))
                resp.provider_peers.push_back(KadPeer{p.provider, p.addrs, false});
            resp.closer_peers = closer_peers(req.key, from);
            count(stats_.served, req.type, "ok");
            return resp;
        case MessageType::add_provider: {
            bool stored = false;
            for (const auto& p : req.provider_peers) {
                if (p.id != from) {
                    // Only a provider may announce itself: anything else is a forgery or a
                    // relay we cannot verify.
                    log().info(
                        "event=kad_add_provider_rejected peer={} claimed={} reason=not_sender",
                        from.short_string(), p.id.short_string());
                    continue;
                }
                auto addrs = p.addrs;
                if (addrs.empty())
                    if (auto info = host_.peer_store().get(from)) addrs = info->addrs;
                for (const auto& a : addrs) host_.peer_store().add_address(from, a);
                // A record keeps a few addresses (the peer store keeps the rest while the peer is
                // known): each one is paid for once per key, for 48 hours.
                if (addrs.size() > max_addrs_per_provider) addrs.resize(max_addrs_per_provider);
                if (store_provider(
                        req.key, ProviderEntry{from, addrs, now_ms() + provider_validity_ms}, ack))
                    stored = true;
            }
            count(stats_.served, req.type, stored ? "ok" : "rejected");
            if (!stored && ack) ack->rejected = true;
            return std::nullopt;  // ADD_PROVIDER has no response
        }
        case MessageType::get_value: {
            if (auto record = live_record(req.key)) resp.record = std::move(*record);
            resp.closer_peers = closer_peers(req.key, from);
            count(stats_.served, req.type, "ok");
            return resp;
        }
        case MessageType::put_value: {
            if (!req.record || req.record->key != req.key) {
                count(stats_.served, req.type, "rejected");
                if (ack) ack->rejected = true;
                return std::nullopt;
            }
            if (auto ec = validators_.validate(req.record->key, req.record->value)) {
                log().info("event=kad_put_rejected peer={} error=\"{}\"", from.short_string(),
                           ec.message());
                count(stats_.served, req.type, "rejected");
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
                r.time_received = rfc3339(std::chrono::system_clock::now());
                // The publisher's ttl (rust) is honoured when shorter than our maximum age.
                auto age = r.ttl > 0 ? std::min<std::int64_t>(std::int64_t{r.ttl} * 1000,
                                                              max_record_age_ms)
                                     : max_record_age_ms;
                r.expires_ms = now_ms() + age;
                if (!store_record(std::move(r), ack)) {
                    log().info("event=kad_put_rejected peer={} reason=full records={} bytes={}",
                               from.short_string(), records_.size(), record_bytes_);
                    count(stats_.served, req.type, "full");
                    if (ack) ack->rejected = true;
                    return std::nullopt;
                }
            }
            count(stats_.served, req.type, "ok");
            return req;  // the spec: echo the request back (once durable, see serve())
        }
        case MessageType::ping:
            count(stats_.served, req.type, "ok");
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
    return r.key.size() + r.value.size() + r.time_received.size() + 96;
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

// ---- client side ---------------------------------------------------------------------------

awaitable<net::result<KadMessage>> Dht::request(PeerId peer, KadMessage message,
                                                std::vector<Multiaddr> addrs) {
    auto type = message.type;
    if (host_.connections_to(peer).empty() && in_dial_backoff(peer)) {
        count(stats_.sent, type, "backoff");
        co_return make_error_code(kad_errc::dial_backoff);
    }
    bool connected = false;
    auto attempt = [&]() -> awaitable<net::result<KadMessage>> {
        auto conn = co_await host_.connect_peer(peer, addrs);
        if (!conn) co_return conn.error().error;
        connected = true;
        std::vector<std::string> wanted{config_.profile.kad_protocol};
        auto stream = co_await host_.new_stream(*conn, std::move(wanted));
        if (!stream) co_return stream.error().error;
        if (auto ec = co_await net::write_length_prefixed(**stream, encode_message(message)))
            co_return ec;
        if (type == MessageType::add_provider) {
            // No response to ADD_PROVIDER; a PING after it is answered once it is durable
            // (Keel servers). A server that does not answer PING still got the record.
            KadMessage ping;
            ping.type = MessageType::ping;
            KadMessage sent;
            sent.type = MessageType::add_provider;
            if (co_await net::write_length_prefixed(**stream, encode_message(ping))) co_return sent;
            auto bytes = co_await net::with_deadline(
                net::read_length_prefixed(**stream, max_message_size), config_.rpc_timeout / 2);
            co_await (*stream)->close_write();
            if (!bytes) co_return sent;
            auto answer = decode_message(*bytes);
            if (answer && answer->type == MessageType::ping) co_return std::move(*answer);
            co_return sent;
        }
        auto bytes = co_await net::read_length_prefixed(**stream, max_message_size);
        co_await (*stream)->close_write();
        if (!bytes) co_return bytes.error();
        auto response = decode_message(*bytes);
        if (!response) co_return response.error();
        if (response->type != type) co_return make_error_code(kad_errc::malformed_message);
        co_return std::move(*response);
    };
    auto result = co_await net::with_deadline(attempt(), config_.rpc_timeout);
    count(stats_.sent, type, result ? "ok" : "error");
    if (result) table_.mark_seen(peer);
    if (connected) {
        dial_backoff_.erase(peer);
    } else if (!result) {
        note_dial_failure(peer);
    }
    co_return result;
}

void Dht::note_dial_failure(const PeerId& peer) {
    auto now = net::Clock::now();
    // Bounded: past this many peers, those whose backoff ran out are forgotten.
    if (dial_backoff_.size() >= 10'000)
        std::erase_if(dial_backoff_,
                      [now](const auto& entry) { return entry.second.until <= now; });
    auto& backoff = dial_backoff_[peer];
    auto delay = config_.dial_backoff_initial * (1LL << std::min(backoff.failures, 16));
    backoff.until = now + std::min<net::Duration>(delay, config_.dial_backoff_max);
    ++backoff.failures;
}

bool Dht::serving() const {
    if (!config_.server_mode || !*alive_) return false;
    auto registered = host_.protocols();
    return std::find(registered.begin(), registered.end(), config_.profile.kad_protocol) !=
           registered.end();
}

bool Dht::in_dial_backoff(const PeerId& peer) const {
    auto now = net::Clock::now();
    // Someone else's failed dial counts too (the health monitor redialling a dead bootstrap on
    // its own backoff): the DHT does not add dials on top.
    if (auto failed = host_.last_dial_failure(peer);
        failed && now - *failed < config_.dial_backoff_initial)
        return true;
    auto it = dial_backoff_.find(peer);
    return it != dial_backoff_.end() && now < it->second.until;
}

awaitable<LookupResult> Dht::lookup(Bytes key, MessageType type, OnResponse on_response) {
    ++stats_.lookups;
    auto target = kad_key(key);
    auto seeds = table_.closest(target, config_.k);
    if (seeds.empty()) ++stats_.lookup_failures;
    KadMessage message;
    message.type = type;
    message.key = std::move(key);
    LookupHooks hooks;
    hooks.request = [this](const PeerId& peer, const KadMessage& m,
                           const std::vector<Multiaddr>& addrs) { return request(peer, m, addrs); };
    hooks.on_response = std::move(on_response);
    hooks.on_referral = [this](const KadPeer& p) {
        for (const auto& a : p.addrs) host_.peer_store().add_address(p.id, a);
    };
    hooks.running = [alive = alive_] { return *alive; };
    auto result = co_await run_lookup(
        host_.get_executor(), target, host_.peer_id(), std::move(seeds), std::move(message),
        LookupParams{config_.k, config_.alpha, config_.lookup_timeout}, std::move(hooks));
    if (*alive_)
        table_.mark_refreshed(std::min(common_prefix_length(table_.self_key(), target), 255));
    co_return result;
}

// ---- fan-out: one message to many peers at once ----------------------------------------------

// Shared by send_to_all and the requests it spawns, which may outlive it by a few handlers.
struct Dht::FanOut {
    FanOut(asio::any_io_executor ex, net::Clock::time_point deadline, std::size_t n)
        : signal(ex), cancel(ex, deadline), answers(n) {}
    asio::steady_timer signal;  // cancelled by each request that ends
    asio::steady_timer cancel;  // fires at the deadline, or is cancelled: every request ends
    std::vector<std::optional<KadMessage>> answers;
    std::size_t pending = 0;
    bool finished = false;  // send_to_all returned: answers are no longer read
};

awaitable<void> Dht::send_one(std::shared_ptr<FanOut> fan_out, std::size_t index, PeerId peer,
                              KadMessage message) {
    // The request against the overall deadline and against stop(); the losers are cancelled.
    // Named first: GCC 12 mishandles temporaries inside a co_await expression.
    using namespace asio::experimental::awaitable_operators;
    auto race = request(std::move(peer), std::move(message)) ||
                fan_out->cancel.async_wait(net::use_result) ||
                stopped_signal_.async_wait(net::use_result);
    auto winner = co_await std::move(race);
    --fan_out->pending;
    fan_out->signal.cancel();
    if (fan_out->finished || winner.index() != 0) co_return;
    auto& response = std::get<0>(winner);
    if (response) fan_out->answers[index] = std::move(*response);
}

awaitable<std::vector<std::optional<KadMessage>>> Dht::send_to_all(std::vector<PeerId> peers,
                                                                   KadMessage message) {
    auto deadline = net::Clock::now() + config_.rpc_timeout;
    auto fan_out = std::make_shared<FanOut>(host_.get_executor(), deadline, peers.size());
    // However this frame ends (a caller's cancellation ends it with an exception), the requests
    // still in flight are cancelled and stop writing answers.
    struct EndOnExit {
        std::shared_ptr<FanOut> fan_out;
        ~EndOnExit() {
            fan_out->finished = true;
            fan_out->cancel.cancel();
        }
    } end_on_exit{fan_out};
    if (!*alive_) co_return fan_out->answers;
    for (std::size_t i = 0; i < peers.size(); ++i) {
        ++fan_out->pending;
        asio::co_spawn(host_.get_executor(), send_one(fan_out, i, peers[i], message),
                       asio::detached);
    }
    // Every request ends by the deadline (its race against `cancel`), or within a few handlers of
    // stop(): wait for all of them, so that an answer that has just arrived still counts. The grace
    // only bounds a request slow to honour its cancellation.
    const auto backstop = deadline + std::chrono::milliseconds(250);
    while (fan_out->pending > 0 && net::Clock::now() < backstop) {
        fan_out->signal.expires_at(backstop);
        co_await fan_out->signal.async_wait(net::use_result);
    }
    auto answers = fan_out->answers;
    co_return answers;
}

awaitable<LookupResult> Dht::get_closest_peers(Bytes key) {
    co_return co_await lookup(std::move(key), MessageType::find_node, {});
}

awaitable<net::result<std::vector<Multiaddr>>> Dht::find_peer(PeerId peer) {
    if (!host_.connections_to(peer).empty())
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
        store_provider(key, ProviderEntry{host_.peer_id(), host_.listen_addrs(),
                                          now_ms() + provider_validity_ms});
    provided_[key] = now_ms();
    auto closest = co_await lookup(key, MessageType::find_node, {});
    if (closest.closest.empty()) co_return make_error_code(kad_errc::no_peers);
    KadMessage msg;
    msg.type = MessageType::add_provider;
    msg.key = key;
    msg.provider_peers.push_back(KadPeer{host_.peer_id(), host_.listen_addrs(), true});
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
    co_await lookup(key, MessageType::get_providers, [&](const PeerId&, const KadMessage& resp) {
        for (const auto& p : resp.provider_peers) {
            for (const auto& a : p.addrs) host_.peer_store().add_address(p.id, a);
            take(ProviderEntry{p.id, p.addrs, 0});
        }
        return found.size() >= count;
    });
    co_return found;
}

awaitable<net::result<std::size_t>> Dht::put_value(Bytes key, Bytes value, std::size_t quorum) {
    if (auto ec = validators_.validate(key, value)) co_return ec;
    Record record{key, value, rfc3339(std::chrono::system_clock::now()), {}, 0, 0};
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
            log().info("event=kad_invalid_record_received peer={} error=\"{}\"",
                       from.short_string(), ec.message());
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

// ---- bootstrap and refresh -------------------------------------------------------------------

awaitable<std::size_t> Dht::bootstrap(std::vector<Multiaddr> peers) {
    bootstrap_peers_ = peers;
    // Staggered, not one after another: a bootstrap that hangs costs the stagger, not a timeout.
    auto race = co_await dial_staggered(host_, peers, config_.bootstrap_stagger);
    std::size_t reached = 0;
    if (race.connection && co_await host_.wait_identified(race.connection)) reached = 1;
    for (const auto& failure : race.failures)
        if (failure) log().info("event=bootstrap_dial_failed error=\"{}\"", failure->message());
    co_await refresh();
    co_return reached;
}

awaitable<void> Dht::refresh() {
    last_refresh_ = net::Clock::now();
    if (table_.size() == 0 && !bootstrap_peers_.empty()) {
        // Bootstraps that just failed are left to their backoff (and to the health monitor).
        std::vector<Multiaddr> dialable;
        for (const auto& addr : bootstrap_peers_) {
            const auto* p2p = addr.find(proto_code::p2p);
            auto peer = p2p ? PeerId::from_bytes(p2p->value) : PeerId::from_bytes({});
            if (!peer || !in_dial_backoff(*peer)) dialable.push_back(addr);
        }
        auto race = co_await dial_staggered(host_, dialable, config_.bootstrap_stagger);
        if (race.connection) co_await host_.wait_identified(race.connection);
        for (std::size_t i = 0; i < race.failures.size(); ++i) {
            const auto* p2p = race.failures[i] ? dialable[i].find(proto_code::p2p) : nullptr;
            if (auto peer = p2p ? PeerId::from_bytes(p2p->value) : PeerId::from_bytes({}))
                note_dial_failure(*peer);
        }
    }
    if (table_.size() == 0) co_return;
    co_await lookup(host_.peer_id().bytes(), MessageType::find_node, {});
    // Random keys landing in each stale bucket (SHA-256 cannot be inverted; trying random keys
    // until one has the wanted prefix takes ~2^(cpl+1) hashes, which is why only shallow buckets
    // are refreshed).
    for (int cpl : table_.stale_buckets(last_refresh_ - config_.refresh_interval)) {
        Bytes key(32);
        for (int tries = 0; tries < (1 << 18); ++tries) {
            randombytes_buf(key.data(), key.size());
            if (common_prefix_length(table_.self_key(), kad_key(key)) == cpl) break;
        }
        co_await lookup(key, MessageType::find_node, {});
        if (!*alive_) co_return;
    }
}

awaitable<void> Dht::refresh_loop() {
    auto alive = alive_;
    while (*alive) {
        refresh_signal_.expires_after(std::chrono::seconds(5));
        co_await refresh_signal_.async_wait(net::use_result);
        if (!*alive) co_return;
        auto since = net::Clock::now() - last_refresh_;
        bool due = since >= config_.refresh_interval;
        bool starving = table_.size() < config_.refresh_threshold && !bootstrap_peers_.empty() &&
                        since >= std::chrono::seconds(10);
        if (due || starving) co_await refresh();
        if (!*alive) co_return;
        // Republish what we provide before the 48 h validity runs out.
        auto now = now_ms();
        for (auto& [key, at] : provided_) {
            if (now - at < provider_republish_ms) continue;
            at = now;
            co_await provide(key);
            if (!*alive) co_return;
        }
        providers_.remove_expired(now);
        remove_expired_records(now);
    }
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
