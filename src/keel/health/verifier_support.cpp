// What the discovery verifier's steps share (verifier_support.hpp).
#include "keel/health/verifier_support.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "keel/net/deadline.hpp"
#include "keel/net/task_group.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::health::verifier {

namespace asio = net::asio;
using net::awaitable;

double ms_between(net::Clock::time_point from, net::Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string format_ms(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", ms);
    return buf;
}

std::string format_ms(net::Clock::duration d) {
    return format_ms(std::chrono::duration<double, std::milli>(d).count());
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string short_list(const std::vector<PeerId>& peers, std::size_t shown) {
    std::string out;
    for (std::size_t i = 0; i < peers.size() && i < shown; ++i)
        out += (i ? ", " : "") + peers[i].short_string();
    if (peers.size() > shown) out += ", …";
    return out;
}

Outcome pass(std::string detail) {
    return Outcome{VerificationStep::Status::passed, std::move(detail), {}};
}

Outcome fail(std::string detail, std::string_view remedy) {
    return Outcome{VerificationStep::Status::failed, std::move(detail), std::string(remedy)};
}

Outcome not_enough_peers(std::string detail, std::string_view remedy) {
    return Outcome{VerificationStep::Status::not_enough_peers, std::move(detail),
                   std::string(remedy)};
}

namespace {

// ---- one request to many peers at once ------------------------------------------------------

struct AskState {
    bool stop = false;
    OnAnswer on_answer;
};

// Once ask_peers returns (or is cancelled by its step's deadline) the requests still in flight
// must not call back into the caller's frame.
struct StopOnExit {
    std::shared_ptr<AskState> state;
    ~StopOnExit() {
        state->stop = true;
        state->on_answer = nullptr;
    }
};

awaitable<void> ask_one(kad::Dht& dht, std::shared_ptr<AskState> state, PeerId peer,
                        kad::KadMessage message) {
    auto answer = co_await dht.request(peer, std::move(message));
    if (!state->stop && state->on_answer && state->on_answer(peer, answer)) state->stop = true;
}

}  // namespace

awaitable<void> ask_peers(kad::Dht& dht, std::vector<PeerId> peers, kad::KadMessage message,
                          OnAnswer on_answer) {
    auto state = std::make_shared<AskState>();
    state->on_answer = std::move(on_answer);
    StopOnExit guard{state};
    // Declared after the guard, so destroyed first: the requests still in flight are cancelled
    // once the question is settled (or this step's deadline cancels us).
    net::TaskGroup asking(co_await asio::this_coro::executor);
    for (const auto& peer : peers) asking.spawn(ask_one(dht, state, peer, message));
    auto done = [&] { return asking.running() == 0 || state->stop; };
    co_await asking.until(done);
}

awaitable<bool> ask_peers_within(kad::Dht& dht, std::vector<PeerId> peers, kad::KadMessage message,
                                 OnAnswer on_answer, net::Duration limit) {
    auto done = co_await net::within_deadline(
        [](kad::Dht& d, std::vector<PeerId> p, kad::KadMessage m, OnAnswer a) -> awaitable<bool> {
            co_await ask_peers(d, std::move(p), std::move(m), std::move(a));
            co_return true;
        }(dht, std::move(peers), std::move(message), std::move(on_answer)),
        limit);
    co_return done.has_value();
}

awaitable<std::vector<PeerId>> closest_peers(kad::Dht& dht, Bytes key) {
    auto lookup = co_await dht.get_closest_peers(key);
    std::vector<PeerId> peers;
    std::set<PeerId> seen{dht.host().peer_id()};
    for (const auto& id : lookup.closest)
        if (seen.insert(id).second) peers.push_back(id);
    for (const auto& id : dht.routing_table().closest(kad::kad_key(key), dht.config().k))
        if (peers.size() < dht.config().k && seen.insert(id).second) peers.push_back(id);
    co_return peers;
}

awaitable<net::result<PingOutcome>> ping_peer(Host& host, PeerId peer) {
    auto conn = co_await host.connect_peer(peer);
    if (!conn) co_return conn.error().error;
    std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
    auto stream = co_await host.new_stream(*conn, std::move(wanted));
    if (!stream) co_return stream.error().error;
    auto rtt = co_await protocols::ping_once(**stream);
    co_await (*stream)->close_write();
    if (!rtt) co_return rtt.error();
    co_return PingOutcome{*conn, *rtt};
}

awaitable<net::result<protocols::HealthStats>> ask_stats(
    Host& host, std::shared_ptr<protocols::HealthRequestPacer> pacer, PeerId peer) {
    auto conn = co_await host.connect_peer(peer);
    if (!conn) co_return conn.error().error;
    co_await pacer->turn(peer);
    std::vector<std::string> wanted{std::string(protocols::health_protocol_id)};
    auto stream = co_await host.new_stream(*conn, std::move(wanted));
    if (!stream) co_return stream.error().error;
    auto stats = co_await protocols::request_health(**stream, false);
    if (!stats) (*stream)->reset();
    co_return stats;
}

bool speaks_health(Host& host, const PeerId& peer) {
    auto info = host.peer_store().get(peer);
    return info && std::find(info->protocols.begin(), info->protocols.end(),
                             protocols::health_protocol_id) != info->protocols.end();
}

awaitable<net::result<protocols::HealthStats>> ask_ping_back(
    Host& host, std::shared_ptr<protocols::HealthRequestPacer> pacer,
    std::shared_ptr<Connection> conn) {
    co_await pacer->turn(conn->peer);
    std::vector<std::string> wanted{std::string(protocols::health_protocol_id)};
    auto stream = co_await host.new_stream(conn, std::move(wanted));
    if (!stream) co_return stream.error().error;
    auto stats = co_await protocols::request_health(**stream, true);
    if (!stats) (*stream)->reset();
    co_return stats;
}

}  // namespace keel::health::verifier
