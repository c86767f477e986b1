// The discovery verifier: the six steps in order, each under its deadline; steps 1-4 and 6 (step
// 5 is in verifier_reachability.cpp; what the steps share, in verifier_support).
#include "keel/health/discovery_verifier.hpp"

#include <sodium.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "keel/base/cid.hpp"
#include "keel/health/verifier_support.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/protocols/keel_health.hpp"

namespace keel::health {

namespace asio = net::asio;
using net::awaitable;
using namespace verifier;

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
    if (!config_.health_requests)
        config_.health_requests = std::make_shared<protocols::HealthRequestPacer>();
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
        // In our turn (HealthRequestPacer): a probe of the health monitor that just asked the
        // same bootstrap delays this question instead of getting it refused.
        auto budget = std::min<net::Duration>(config_.step_timeout / 4,
                                              remaining() - std::chrono::milliseconds(50));
        if (budget > net::Duration::zero()) {
            auto answer =
                co_await net::with_deadline(ask_stats(host_, config_.health_requests, b), budget);
            if (answer)
                stats = *answer;
            else
                why = answer.error().message();
        } else {
            why = "no time left in the step";
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
