#include "keel/health/discovery_verifier.hpp"

#include <sodium.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "keel/base/cid.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/protocols/keel_health.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::health {

namespace asio = net::asio;
using net::awaitable;
using Outcome = DiscoveryVerifier::Outcome;

namespace {

struct StepInfo {
    std::string_view id;
    std::string_view title;
    std::string_view remedy;  // when the step fails or times out
};

constexpr std::array<StepInfo, DiscoveryVerifier::step_count> step_info{{
    {"routing_table", "routing table populated",
     "No DHT peers: check that a bootstrap is reachable (keel health) and speaks the same DHT "
     "protocol (--profile)"},
    {"publish", "publish test record",
     "No DHT server stored the record: the closest peers may be DHT clients, unreachable or "
     "refusing /pk/ records; check that a server-mode bootstrap is reachable (keel health, keel "
     "dht table)"},
    {"fetch_remote", "fetch test record from another peer",
     "The peers closest to the record do not return it: they dropped it (full store, restart "
     "without persistence), answer too slowly, or are not the peers that stored it; try keel dht "
     "get /pk/<our peer ID> from another machine"},
    {"list_peers", "list discovered peers",
     "No peer besides the bootstraps is known: they did not answer FIND_NODE, or do not share the "
     "peers they know; check them with keel health ADDR and keel dht table on the bootstrap"},
    {"reachability", "bidirectional reachability",
     "Discovered peers do not answer a ping or cannot reach us back: a NAT or firewall blocks "
     "one direction; forward the listen port (or use a relay) and advertise a public address"},
    {"provider_visible", "provider record visible",
     "The closest peers do not list us as a provider: ADD_PROVIDER was refused or lost (servers "
     "accept providers only from the announcing peer, with its addresses), or they are not the "
     "peers we announced to; compare keel dht providers CID from another node"},
}};

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

constexpr std::string_view no_peers_remedy =
    "No peers known at all: check that a bootstrap is reachable (keel health ADDR) and that its "
    "address ends in the right /p2p/ID";

// The first `shown` short IDs, then "…" when there are more.
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

// ---- one request to many peers at once ------------------------------------------------------

// Sees each answer (or failure) as it arrives; true stops the wait.
using OnAnswer = std::function<bool(const PeerId&, const net::result<kad::KadMessage>&)>;

struct AskState {
    explicit AskState(asio::any_io_executor ex) : signal(ex) {}
    std::size_t pending = 0;
    bool stop = false;
    OnAnswer on_answer;
    asio::steady_timer signal;
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
    --state->pending;
    if (!state->stop && state->on_answer && state->on_answer(peer, answer)) state->stop = true;
    state->signal.cancel();
}

// Sends `message` to every peer in parallel (each request bounded by the DHT's rpc_timeout) and
// returns once all answered or failed, or `on_answer` asked to stop.
awaitable<void> ask_peers(kad::Dht& dht, std::vector<PeerId> peers, kad::KadMessage message,
                          OnAnswer on_answer) {
    auto ex = co_await asio::this_coro::executor;
    auto state = std::make_shared<AskState>(ex);
    state->on_answer = std::move(on_answer);
    state->pending = peers.size();
    StopOnExit guard{state};
    for (const auto& peer : peers)
        asio::co_spawn(ex, ask_one(dht, state, peer, message), asio::detached);
    while (state->pending > 0 && !state->stop) {
        state->signal.expires_at(net::Clock::time_point::max());
        co_await state->signal.async_wait(net::use_result);
    }
}

// ask_peers, but returns by `limit` with the answers so far: one silent peer must not take the
// whole step's deadline when the others have answered.
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

// The k closest peers to `key` that answered a lookup, then the routing table's closest (in
// case the lookup found fewer); never ourselves.
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

// ---- reachability ---------------------------------------------------------------------------

struct PingOutcome {
    std::shared_ptr<Connection> connection;
    net::Clock::duration rtt{};
};

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

// A peer's own figures over /keel/health (no ping back).
awaitable<net::result<protocols::HealthStats>> ask_stats(Host& host, PeerId peer) {
    auto conn = co_await host.connect_peer(peer);
    if (!conn) co_return conn.error().error;
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

// Asks the peer over /keel/health to ping us back on a stream it opens itself.
awaitable<net::result<protocols::HealthStats>> ask_ping_back(Host& host,
                                                             std::shared_ptr<Connection> conn) {
    std::vector<std::string> wanted{std::string(protocols::health_protocol_id)};
    auto stream = co_await host.new_stream(conn, std::move(wanted));
    if (!stream) co_return stream.error().error;
    auto stats = co_await protocols::request_health(**stream, true);
    if (!stats) (*stream)->reset();
    co_return stats;
}

}  // namespace

std::string_view status_name(VerificationStep::Status status) {
    switch (status) {
        case VerificationStep::Status::pending:
            return "pending";
        case VerificationStep::Status::running:
            return "running";
        case VerificationStep::Status::passed:
            return "passed";
        case VerificationStep::Status::failed:
            return "failed";
        case VerificationStep::Status::skipped:
            return "skipped";
        case VerificationStep::Status::not_enough_peers:
            return "not_enough_peers";
    }
    return "unknown";
}

std::string_view overall_result(const std::vector<VerificationStep>& steps) {
    using Status = VerificationStep::Status;
    bool short_of_peers = false;
    for (const auto& s : steps) {
        if (s.status == Status::not_enough_peers)
            short_of_peers = true;
        else if (s.status != Status::passed)
            return "failed";
    }
    return short_of_peers ? "not_enough_peers" : "passed";
}

DiscoveryVerifier::DiscoveryVerifier(Host& host, kad::Dht& dht, VerifierConfig config)
    : host_(host), dht_(dht), config_(std::move(config)) {
    record_key_ = to_bytes(std::string_view("/pk/"));
    const auto& id = host_.peer_id().bytes();
    record_key_.insert(record_key_.end(), id.begin(), id.end());
    record_value_ = host_.config().identity.public_key().marshal();
}

bool DiscoveryVerifier::is_bootstrap(const PeerId& peer) const {
    return std::find(config_.bootstrap_peers.begin(), config_.bootstrap_peers.end(), peer) !=
           config_.bootstrap_peers.end();
}

awaitable<std::vector<VerificationStep>> DiscoveryVerifier::run(Progress on_progress,
                                                                std::size_t count) {
    using Status = VerificationStep::Status;
    count = std::min(count, step_count);
    std::vector<VerificationStep> steps(count);
    for (std::size_t i = 0; i < count; ++i) {
        steps[i].id = step_info[i].id;
        steps[i].title = step_info[i].title;
    }
    auto report = [&](std::size_t i) {
        if (on_progress) on_progress(steps[i], i);
    };
    for (std::size_t i = 0; i < count; ++i) {
        auto& step = steps[i];
        // 2, 3 and 6 need DHT peers; 3 needs the record of 2.
        std::optional<std::size_t> blocker;
        if ((i == 1 || i == 2 || i == 5) && steps[0].status != Status::passed)
            blocker = 0;
        else if (i == 2 && steps[1].status != Status::passed)
            blocker = 1;
        if (blocker) {
            step.status = Status::skipped;
            step.detail = "needs step " + std::to_string(*blocker + 1) + " (" +
                          steps[*blocker].title + "), which did not pass";
            step.remedy = steps[*blocker].remedy;
            report(i);
            continue;
        }
        step.status = Status::running;
        report(i);
        auto start = net::Clock::now();
        auto outcome = co_await net::with_deadline(run_step(i), config_.step_timeout);
        step.duration_ms = ms_between(start, net::Clock::now());
        if (outcome) {
            step.status = outcome->status;
            step.detail = std::move(outcome->detail);
            step.remedy = std::move(outcome->remedy);
            if (step.status == Status::failed && step.remedy.empty())
                step.remedy = step_info[i].remedy;
        } else {
            step.status = Status::failed;
            step.detail =
                outcome.error() == net::net_errc::timeout
                    ? "timed out after " + std::to_string(config_.step_timeout.count()) + " ms"
                    : outcome.error().message();
            step.remedy = step_info[i].remedy;
        }
        log().info("event=verify_step step={} status={} duration_ms={:.1f} detail=\"{}\"", step.id,
                   status_name(step.status), step.duration_ms, step.detail);
        report(i);
    }
    co_return steps;
}

awaitable<net::result<Outcome>> DiscoveryVerifier::run_step(std::size_t index) {
    switch (index) {
        case 0:
            co_return co_await check_routing_table();
        case 1:
            co_return co_await publish();
        case 2:
            co_return co_await fetch_remote();
        case 3:
            co_return co_await list_peers();
        case 4:
            co_return co_await reachability();
        default:
            co_return co_await provider_visible();
    }
}

// ---- 1: routing table -------------------------------------------------------------------------

awaitable<net::result<Outcome>> DiscoveryVerifier::check_routing_table() {
    auto size = dht_.routing_table().size();
    if (size > 0) co_return pass(plural(size, "peer", "peers"));
    auto open = host_.connections().size();
    std::string detail =
        "the routing table is empty (" + plural(open, "open connection", "open connections");
    if (open > 0) detail += ", none to a DHT server speaking " + dht_.config().profile.kad_protocol;
    detail += ")";
    co_return fail(std::move(detail), step_info[0].remedy);
}

// ---- 2: publish ---------------------------------------------------------------------------------

awaitable<net::result<Outcome>> DiscoveryVerifier::publish() {
    auto stored = co_await dht_.put_value(record_key_, record_value_, 1);
    if (!stored)
        co_return fail("no DHT server stored /pk/" + host_.peer_id().short_string() + " (" +
                           stored.error().message() + ")",
                       step_info[1].remedy);
    co_return pass("/pk/" + host_.peer_id().short_string() + " stored by " +
                   plural(*stored, "peer", "peers"));
}

// ---- 3: fetch it back from another peer -------------------------------------------------------

awaitable<net::result<Outcome>> DiscoveryVerifier::fetch_remote() {
    auto peers = co_await closest_peers(dht_, record_key_);
    if (peers.empty()) co_return fail("no other peer to ask", step_info[2].remedy);
    kad::KadMessage get;
    get.type = kad::MessageType::get_value;
    get.key = record_key_;
    std::optional<PeerId> from;
    std::size_t answered = 0;
    std::size_t failed = 0;
    OnAnswer on_answer = [&](const PeerId& peer, const net::result<kad::KadMessage>& answer) {
        if (!answer) {
            ++failed;
            return false;
        }
        ++answered;
        if (answer->record && answer->record->key == record_key_ &&
            answer->record->value == record_value_) {
            from = peer;
            return true;
        }
        return false;
    };
    co_await ask_peers(dht_, peers, get, std::move(on_answer));
    if (from)
        co_return pass("returned by " + from->short_string() + " (asked " +
                       plural(peers.size(), "peer", "peers") + " in parallel)");
    co_return fail("none of " + plural(peers.size(), "peer", "peers") + " returned it (" +
                       std::to_string(answered) + " answered without it, " +
                       std::to_string(failed) + " failed)",
                   step_info[2].remedy);
}

// ---- 4: list discovered peers -----------------------------------------------------------------

awaitable<net::result<Outcome>> DiscoveryVerifier::list_peers() {
    std::set<PeerId> known;
    std::vector<PeerId> discovered;  // neither us nor a bootstrap, routing table first
    auto consider = [&](const PeerId& id) {
        if (id == host_.peer_id() || !known.insert(id).second) return;
        if (!is_bootstrap(id)) discovered.push_back(id);
    };
    for (const auto& e : dht_.routing_table().entries()) consider(e.id);
    for (const auto& info : host_.peer_store().all()) consider(info.id);
    std::string detail = plural(known.size(), "peer", "peers");
    if (!config_.bootstrap_peers.empty())
        detail += " (" + std::to_string(discovered.size()) + " besides the bootstraps)";
    if (!discovered.empty())
        co_return pass(detail + ": " + short_list(discovered, config_.peers_shown));
    if (config_.bootstrap_peers.empty())
        co_return fail(std::move(detail), known.empty() ? no_peers_remedy : step_info[3].remedy);
    co_return co_await ask_bootstraps(std::move(detail), known.empty());
}

// Nobody besides the bootstraps is known: is the network that small, or do the bootstraps know
// peers they do not share? Their FIND_NODE for our key names the peers they would give anyone,
// and /keel/health says how many their routing table (what FIND_NODE answers from) holds. In a
// network of one it holds at most the other bootstraps and us.
awaitable<net::result<Outcome>> DiscoveryVerifier::ask_bootstraps(std::string detail,
                                                                  bool knew_nobody) {
    auto deadline = net::Clock::now() + config_.step_timeout;
    auto remaining = [&] {
        return std::chrono::duration_cast<net::Duration>(deadline - net::Clock::now());
    };
    std::set<PeerId> bootstraps(config_.bootstrap_peers.begin(), config_.bootstrap_peers.end());
    bootstraps.erase(host_.peer_id());
    std::vector<PeerId> asked(bootstraps.begin(), bootstraps.end());

    kad::KadMessage find;
    find.type = kad::MessageType::find_node;
    find.key = host_.peer_id().bytes();
    std::map<PeerId, std::size_t> answered;  // bootstrap -> peers its FIND_NODE named
    std::vector<PeerId> named;               // besides us and the bootstraps
    std::string errors;
    std::set<PeerId> failed;
    OnAnswer on_answer = [&](const PeerId& peer, const net::result<kad::KadMessage>& answer) {
        if (!answer) {
            failed.insert(peer);
            errors += (errors.empty() ? "" : "; ") + peer.short_string() + ": " +
                      answer.error().message();
            return false;
        }
        answered[peer] = answer->closer_peers.size();
        for (const auto& p : answer->closer_peers) {
            if (p.id == host_.peer_id() || bootstraps.count(p.id) ||
                std::find(named.begin(), named.end(), p.id) != named.end())
                continue;
            named.push_back(p.id);
            // As a lookup would: the peer is now known, and step 5 can dial it.
            for (const auto& a : p.addrs) host_.peer_store().add_address(p.id, a);
        }
        return false;
    };
    co_await ask_peers_within(dht_, asked, find, std::move(on_answer), config_.step_timeout / 2);
    for (const auto& b : asked)
        if (!answered.count(b) && !failed.count(b))
            errors += (errors.empty() ? "" : "; ") + b.short_string() + ": no answer in time";

    if (!named.empty())
        co_return pass(detail + "; discovered now, named by the bootstraps' FIND_NODE: " +
                       short_list(named, config_.peers_shown));
    if (answered.empty())
        co_return fail(detail + "; no bootstrap answered FIND_NODE (" + errors + ")",
                       knew_nobody ? no_peers_remedy : step_info[3].remedy);
    if (answered.size() < asked.size())
        co_return fail(detail + "; " + std::to_string(asked.size() - answered.size()) + " of " +
                           plural(asked.size(), "bootstrap", "bootstraps") +
                           " did not answer FIND_NODE, so the peers they know are out of sight (" +
                           errors + ")",
                       "A bootstrap does not answer FIND_NODE: check it with keel health ADDR "
                       "(down or degraded?) and verify again");

    // What a bootstrap's routing table may hold without anyone else: the other bootstraps, and us
    // when we are a DHT server (servers take into their tables only peers that serve the DHT).
    std::size_t allowance = bootstraps.size() - 1 + (dht_.config().server_mode ? 1 : 0);
    std::string figures;
    for (const auto& [b, count] : answered) {
        std::optional<protocols::HealthStats> stats;
        std::string why;
        for (int attempt = 0; attempt < 2 && !stats; ++attempt) {
            if (attempt == 1) {
                // A refusal may be the one-request-per-second limit (the health monitor's probe
                // may just have asked): wait it out once, when the step has time for it.
                if (!speaks_health(host_, b) || remaining() < std::chrono::milliseconds(2500))
                    break;
                asio::steady_timer pause(co_await asio::this_coro::executor,
                                         std::chrono::milliseconds(1100));
                co_await pause.async_wait(net::use_result);
            }
            auto budget = std::min<net::Duration>(config_.step_timeout / 4,
                                                  remaining() - std::chrono::milliseconds(50));
            if (budget <= net::Duration::zero()) break;
            auto answer = co_await net::with_deadline(ask_stats(host_, b), budget);
            if (answer)
                stats = *answer;
            else
                why = answer.error().message();
        }
        figures += (figures.empty() ? "" : "; ") + b.short_string() + ": FIND_NODE named " +
                   std::to_string(count);
        if (!stats) {
            figures += ", routing table size unknown (/keel/health: " + why + ")";
            continue;
        }
        figures += ", routing table " + std::to_string(stats->routing_table_size);
        if (stats->routing_table_size > allowance)
            co_return fail(
                detail + "; but bootstrap " + b.short_string() + " holds " +
                    plural(stats->routing_table_size, "peer", "peers") +
                    " in its routing table and its FIND_NODE named none besides us and the "
                    "bootstraps (" +
                    figures + ")",
                "A bootstrap knows peers it does not share: its FIND_NODE answers leave them out "
                "(peers it has no address for, or an implementation that filters its answers); "
                "compare keel dht table on the bootstrap with what it answers (keel health ADDR)");
    }
    co_return not_enough_peers(
        detail + "; not enough peers to check: the bootstraps know nobody else either (" + figures +
            ")",
        "Not a fault: this network holds only this node and its bootstraps. Start another node "
        "that joins them (keel node --bootstrap ADDR) and run the check again");
}

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

    // They reach us: a ping back over a stream they open (Keel), or a connection they opened.
    std::string reverse_note;
    if (speaks_health(host_, target)) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (attempt == 1) {
                // A refusal may be the peer's one-request-per-second limit: wait it out once.
                if (remaining() < std::chrono::milliseconds(1500)) break;
                asio::steady_timer pause(co_await asio::this_coro::executor,
                                         std::chrono::milliseconds(1100));
                co_await pause.async_wait(net::use_result);
            }
            auto budget = remaining() - std::chrono::milliseconds(50);
            if (budget <= net::Duration::zero()) break;
            auto stats =
                co_await net::with_deadline(ask_ping_back(host_, forward->connection), budget);
            if (stats) {
                if (stats->ping_back_ok) {
                    detail += ", it pings us back in " +
                              format_ms(stats->ping_back_ms.value_or(0)) + " ms";
                    co_return pass(std::move(detail));
                }
                reverse_note = "it did not ping us back over /keel/health";
                break;
            }
            reverse_note = "/keel/health ping back: " + stats.error().message();
            if (stats.error() == net::net_errc::timeout) break;
        }
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

// ---- 6: provider record visible from the closest peers ----------------------------------------

awaitable<net::result<Outcome>> DiscoveryVerifier::provider_visible() {
    Bytes random(32);
    randombytes_buf(random.data(), random.size());
    Cid cid{1, Cid::raw, Multihash::sha2_256(random)};
    Bytes key = cid.hash.encode();
    auto provided = co_await dht_.provide(key);
    if (!provided)
        co_return fail(
            "provide " + cid.to_string() + " failed (" + provided.error().message() + ")",
            step_info[5].remedy);
    auto peers = co_await closest_peers(dht_, key);
    if (peers.empty()) co_return fail("no peer to ask for " + cid.to_string(), step_info[5].remedy);
    kad::KadMessage get;
    get.type = kad::MessageType::get_providers;
    get.key = key;
    std::size_t listing = 0;
    std::size_t answered = 0;
    auto self = host_.peer_id();
    OnAnswer on_answer = [&](const PeerId&, const net::result<kad::KadMessage>& answer) {
        if (!answer) return false;
        ++answered;
        for (const auto& p : answer->provider_peers) {
            if (p.id == self) {
                ++listing;
                break;
            }
        }
        return false;
    };
    auto& asker = config_.observer ? *config_.observer : dht_;
    if (config_.observer) {
        for (const auto& peer : peers)
            if (auto info = host_.peer_store().get(peer))
                for (const auto& addr : info->addrs)
                    asker.host().peer_store().add_address(peer, addr);
    }
    co_await ask_peers(asker, peers, get, std::move(on_answer));
    std::string detail =
        "listed by " + std::to_string(listing) + " of " +
        plural(peers.size(), "closest peer", "closest peers") + " asked (" +
        std::to_string(answered) + " answered; announced to " + std::to_string(provided->sent) +
        ", " + std::to_string(provided->acknowledged) + " acknowledged) for " + cid.to_string();
    if (listing > 0) co_return pass(std::move(detail));
    co_return fail(std::move(detail), step_info[5].remedy);
}

}  // namespace keel::health
