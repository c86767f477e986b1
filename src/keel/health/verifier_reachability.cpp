// Step 5 of the discovery verifier: bidirectional reachability (we reach a discovered peer, and
// a way back from it is shown: its ping back over /keel/health, or a stream it opened itself).
#include <algorithm>
#include <optional>

#include "keel/health/discovery_verifier.hpp"
#include "keel/health/verifier_support.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"

namespace keel::health {

namespace asio = net::asio;
using net::awaitable;
using namespace verifier;

// ---- 5: bidirectional reachability ------------------------------------------------------------

awaitable<net::result<Outcome>> DiscoveryVerifier::reachability() {
    auto deadline = net::Clock::now() + config_.step_timeout;
    auto remaining = [&] {
        return std::chrono::duration_cast<net::Duration>(deadline - net::Clock::now());
    };
    // Ping a peer found through the DHT, not just the bootstrap we joined through. Without
    // configured bootstraps, our oldest connection's peer stands in for it.
    std::set<PeerId> avoid(config_.bootstrap_peers.begin(), config_.bootstrap_peers.end());
    if (avoid.empty()) {
        std::shared_ptr<Connection> oldest;
        for (const auto& c : host_.connections())
            if (c->is_open() && (!oldest || c->opened_at < oldest->opened_at)) oldest = c;
        if (oldest) avoid.insert(oldest->peer);
    }
    std::vector<PeerId> preferred;
    std::vector<PeerId> fallback;
    std::set<PeerId> seen{host_.peer_id()};
    auto consider = [&](const PeerId& id) {
        if (!seen.insert(id).second) return;
        (avoid.count(id) ? fallback : preferred).push_back(id);
    };
    for (const auto& id :
         dht_.routing_table().closest(dht_.routing_table().self_key(), dht_.config().k))
        consider(id);
    for (const auto& c : host_.connections())
        if (c->is_open()) consider(c->peer);
    for (const auto& info : host_.peer_store().all())
        if (!info.addrs.empty()) consider(info.id);
    // Peers that can show the way back first (within each group): a Keel peer pings us back
    // over /keel/health, and a peer that opened a connection or a stream to us (besides
    // identify) has reached us already. go and rust peers cannot be asked (their AutoNAT servers
    // never dial back private addresses), but they ping us or query us on their own.
    auto inbound_from = [&](const PeerId& id) {
        for (const auto& c : host_.connections_to(id))
            if (c->is_open() &&
                (c->direction == Direction::inbound || !c->last_remote_protocol.empty()))
                return true;
        return false;
    };
    auto can_answer = [&](const PeerId& id) {
        return speaks_health(host_, id) || inbound_from(id);
    };
    std::stable_partition(preferred.begin(), preferred.end(), can_answer);
    std::stable_partition(fallback.begin(), fallback.end(), can_answer);
    std::vector<PeerId> candidates = preferred;
    candidates.insert(candidates.end(), fallback.begin(), fallback.end());
    bool anyone_can_answer = std::any_of(candidates.begin(), candidates.end(), can_answer);
    if (candidates.empty())
        co_return fail("no peer to ping",
                       "No peer known to ping: join the network first (a reachable bootstrap, "
                       "see steps 1 and 4)");

    // We reach them: one ping, trying a few peers, keeping half the time for the other direction.
    std::optional<PingOutcome> forward;
    PeerId target;
    std::string tried;
    auto attempt_timeout = config_.step_timeout / 4;
    for (std::size_t i = 0; i < candidates.size() && i < config_.max_ping_candidates; ++i) {
        if (i > 0 && remaining() < config_.step_timeout / 2) break;
        auto budget = std::min(attempt_timeout, remaining());
        auto result = co_await net::with_deadline(ping_peer(host_, candidates[i]), budget);
        if (result) {
            forward = *result;
            target = candidates[i];
            break;
        }
        tried += (tried.empty() ? "" : "; ") + candidates[i].short_string() + ": " +
                 result.error().message();
    }
    if (!forward)
        co_return fail("no answer to our ping (" + tried + ")",
                       "Discovered peers do not answer a ping: they are offline, behind a NAT or "
                       "firewall, or advertise addresses we cannot reach (check keel dht "
                       "find-peer ID and keel ping ADDR)");
    std::string detail = target.short_string();
    if (avoid.count(target)) detail += " (a bootstrap: no other peer answered)";
    detail += ": we ping it in " + format_ms(forward->rtt) + " ms";
    // Both ways over a relay still is reachability (how NATed peers reach each other), but
    // limited: the relay's byte and time limits apply.
    if (forward->connection && forward->connection->limited)
        detail += " (over a relay circuit: limited)";

    // They reach us: a ping back over a stream they open (Keel), or a connection they opened.
    std::string reverse_note;
    // In our turn (HealthRequestPacer), so never refused by the peer's rate limit.
    if (auto budget = remaining() - std::chrono::milliseconds(50);
        speaks_health(host_, target) && budget > net::Duration::zero()) {
        auto stats = co_await net::with_deadline(
            ask_ping_back(host_, config_.health_requests, forward->connection), budget);
        if (stats && stats->ping_back_ok) {
            detail += ", it pings us back in " + format_ms(stats->ping_back_ms.value_or(0)) + " ms";
            co_return pass(std::move(detail));
        }
        reverse_note = stats ? "it did not ping us back over /keel/health"
                             : "/keel/health ping back: " + stats.error().message();
    }
    // Peers that do not speak /keel/health show the way back by what they do on their own: a
    // connection they opened to us, or a stream they opened on one (rust pings every 15 s, go
    // sends DHT requests to the servers in its routing table). The target first, then anyone;
    // live peers get the rest of the step to do so.
    std::optional<PeerId> ours;  // our observer identity (step 6) is not someone else
    if (config_.observer) ours = config_.observer->host().peer_id();
    auto evidence = [&](const PeerId& peer) -> std::optional<std::string> {
        std::shared_ptr<Connection> streamed;
        for (const auto& c : host_.connections_to(peer)) {
            if (!c->is_open()) continue;
            if (c->direction == Direction::inbound) return std::string("opened a connection to us");
            if (!c->last_remote_protocol.empty() &&
                (!streamed || c->last_remote_stream_at > streamed->last_remote_stream_at))
                streamed = c;
        }
        if (!streamed) return std::nullopt;
        return "opened a " + streamed->last_remote_protocol + " stream to us " +
               format_ms(net::Clock::now() - streamed->last_remote_stream_at) + " ms ago";
    };
    auto way_back = [&]() -> std::optional<std::string> {
        if (auto e = evidence(target)) return "it " + *e;
        std::set<PeerId> others;
        for (const auto& c : host_.connections())
            if (c->peer != target && c->peer != ours) others.insert(c->peer);
        for (const auto& peer : others)
            if (auto e = evidence(peer)) return peer.short_string() + " " + *e;
        return std::nullopt;
    };
    auto back = way_back();
    if (!back) {
        asio::steady_timer tick(co_await asio::this_coro::executor);
        while (!back && remaining() > std::chrono::milliseconds(100)) {
            tick.expires_after(std::chrono::milliseconds(100));
            co_await tick.async_wait(net::use_result);
            back = way_back();
        }
    }
    if (back) {
        detail += ", " + *back;
        if (!reverse_note.empty()) detail += " (" + reverse_note + ")";
        co_return pass(std::move(detail));
    }
    detail += "; it has not reached us: ";
    detail += reverse_note.empty()
                  ? "it does not speak /keel/health and opened no connection or stream to us"
                  : reverse_note;
    detail += ", and no other peer did within the step";
    if (!dht_.config().server_mode) detail += " (as a DHT client we are in nobody's routing table)";
    if (!anyone_can_answer)
        co_return not_enough_peers(
            detail +
                " (no peer we know can test the way back: none is a Keel peer and none "
                "reached us on its own)",
            "Reachability from outside cannot be checked with these peers: verify as a DHT "
            "server (--dht-server, listening on a reachable address) so that DHT peers query us, "
            "run keel verify against a Keel bootstrap, or check from another machine with keel "
            "ping ADDR");
    co_return fail(std::move(detail),
                   "Peers cannot reach us: a NAT or firewall blocks inbound connections; forward "
                   "the listen port (or use a relay), listen on a reachable address and "
                   "advertise it");
}

}  // namespace keel::health
