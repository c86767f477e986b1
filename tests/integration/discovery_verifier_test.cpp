// Discovery verification end to end, over 127.0.0.1 in one process:
//  - a bootstrap and two DHT servers A and B: every step passes on A and on B, and progress
//    events arrive in order (running, then passed/failed; skipped steps once);
//  - a lone node on one bootstrap: the DHT steps pass through it, and step 4 reports
//    not_enough_peers (the bootstrap knows nobody else either), not a failure;
//  - a bootstrap that holds another peer but leaves it out of its FIND_NODE answers: step 4
//    fails, naming the routing table size;
//  - a bootstrap that is no DHT server: step 1 fails, 2, 3 and 6 are skipped with a remedy;
//  - a node connected to nobody: nothing to ping, everything fails or is skipped, at once;
//  - a bootstrap whose DHT stops answering: the DHT steps end at their deadline;
//  - /keel/health ping_back over a real connection: the node opens a new ping stream to us.
#include <algorithm>
#include <array>

#include "keel/app/health_service.hpp"
#include "keel/base/cid.hpp"
#include "keel/health/discovery_verifier.hpp"
#include "keel/kad/dht.hpp"
#include "keel/kad/kad_message.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/framing.hpp"
#include "keel/protocols/keel_health.hpp"
#include "keel/protocols/ping.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

using health::DiscoveryVerifier;
using health::VerificationStep;
using Status = VerificationStep::Status;

struct Node {
    std::unique_ptr<Host> host;
    std::unique_ptr<kad::Dht> dht;
    Multiaddr addr;  // listen address with /p2p

    const PeerId& id() const { return host->peer_id(); }
};

Node make_node(asio::io_context& io, bool server, bool serve_health = true) {
    Node node;
    node.host = std::make_unique<Host>(io.get_executor(), test_config());
    auto bound = node.host->listen(loopback_any_port());
    EXPECT_TRUE(bound) << bound.error().message();
    if (bound) node.addr = with_peer(*bound, node.host->peer_id());
    kad::DhtConfig config;
    config.server_mode = server;
    config.rpc_timeout = 5s;
    config.lookup_timeout = 10s;
    node.dht = std::make_unique<kad::Dht>(*node.host, config);
    node.dht->start();
    if (serve_health) app::serve_health_protocol(*node.dht);
    return node;
}

// Stops every DHT and host, lets the connections close, destroys each DHT before its host.
void shut_down_nodes(asio::io_context& io, std::vector<Node*> nodes) {
    std::vector<Host*> hosts;
    for (auto* n : nodes) {
        n->dht->stop();
        hosts.push_back(n->host.get());
    }
    shut_down(io, hosts);
    for (auto* n : nodes) n->dht.reset();
    for (auto* n : nodes) n->host.reset();
}

bool bootstrap(asio::io_context& io, Node& node, const Node& through) {
    std::vector<Multiaddr> peers{through.addr};
    auto reached = run_task(io, node.dht->bootstrap(std::move(peers)), 20s);
    return reached && *reached == 1;
}

struct Event {
    std::size_t index;
    Status status;
};

struct Run {
    std::vector<VerificationStep> steps;
    std::vector<Event> events;
    double seconds = 0;
};

// Runs the verifier on `node`; fails the test if it does not end within `limit`.
std::optional<Run> verify(asio::io_context& io, Node& node, std::vector<PeerId> bootstraps,
                          net::Duration step_timeout = 5s, net::Duration limit = 60s) {
    health::VerifierConfig config;
    config.step_timeout = step_timeout;
    config.bootstrap_peers = std::move(bootstraps);
    DiscoveryVerifier verifier(*node.host, *node.dht, config);
    auto events = std::make_shared<std::vector<Event>>();
    DiscoveryVerifier::Progress progress = [events](const VerificationStep& s, std::size_t i) {
        events->push_back(Event{i, s.status});
    };
    auto t0 = net::Clock::now();
    auto steps = run_task(io, verifier.run(progress), limit);
    EXPECT_TRUE(steps) << "the verifier did not finish";
    if (!steps) return std::nullopt;
    Run run;
    run.steps = std::move(*steps);
    run.events = *events;
    run.seconds = std::chrono::duration<double>(net::Clock::now() - t0).count();
    return run;
}

std::string describe(const Run& run) {
    std::string out;
    for (std::size_t i = 0; i < run.steps.size(); ++i) {
        const auto& s = run.steps[i];
        out += std::to_string(i + 1) + " " + s.id + " " +
               std::string(health::status_name(s.status)) + " (" +
               std::to_string(static_cast<long long>(s.duration_ms)) + " ms): " + s.detail;
        if (!s.remedy.empty()) out += " — " + s.remedy;
        out += "\n";
    }
    return out;
}

// Every step is reported in order: running then passed/failed, or once as skipped; the final
// statuses agree with the last event of each step.
void expect_ordered_progress(const Run& run) {
    ASSERT_EQ(run.steps.size(), DiscoveryVerifier::step_count);
    std::size_t e = 0;
    for (std::size_t i = 0; i < run.steps.size(); ++i) {
        ASSERT_LT(e, run.events.size()) << "no event for step " << i + 1;
        EXPECT_EQ(run.events[e].index, i);
        if (run.events[e].status == Status::skipped) {
            EXPECT_EQ(run.steps[i].status, Status::skipped);
            ++e;
            continue;
        }
        EXPECT_EQ(run.events[e].status, Status::running) << "step " << i + 1;
        ++e;
        ASSERT_LT(e, run.events.size()) << "no final event for step " << i + 1;
        EXPECT_EQ(run.events[e].index, i);
        EXPECT_TRUE(run.events[e].status == Status::passed ||
                    run.events[e].status == Status::failed ||
                    run.events[e].status == Status::not_enough_peers)
            << "step " << i + 1;
        EXPECT_EQ(run.events[e].status, run.steps[i].status);
        ++e;
    }
    EXPECT_EQ(e, run.events.size());
}

const VerificationStep& step(const Run& run, std::string_view id) {
    auto it = std::find_if(run.steps.begin(), run.steps.end(),
                           [&](const VerificationStep& s) { return s.id == id; });
    EXPECT_NE(it, run.steps.end()) << id;
    return *it;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// ---- all six pass ------------------------------------------------------------------------

TEST(DiscoveryVerifier, EveryStepPassesWhenTwoPeersMeetThroughABootstrap) {
    asio::io_context io;
    auto boot = make_node(io, true);
    auto a = make_node(io, true);
    auto b = make_node(io, true);
    ASSERT_TRUE(bootstrap(io, a, boot));
    ASSERT_TRUE(bootstrap(io, b, boot));
    // B's self-lookup went through A, which then took B into its table (and B took A).
    ASSERT_TRUE(run_until(
        io,
        [&] {
            return a.dht->routing_table().contains(b.id()) &&
                   b.dht->routing_table().contains(a.id());
        },
        10s));

    // The brief's scenario: A publishes content, B discovers A as its provider.
    Cid cid{1, Cid::raw, Multihash::sha2_256(random_bytes(64, 7))};
    auto provided = run_task(io, a.dht->provide(cid.hash.encode()), 20s);
    ASSERT_TRUE(provided && *provided);
    auto found = run_task(io, b.dht->find_providers(cid.hash.encode(), 1), 20s);
    ASSERT_TRUE(found);
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ(found->front().provider, a.id());

    std::vector<PeerId> bootstraps{boot.id()};
    std::array<std::pair<Node*, Node*>, 2> pairs{{{&a, &b}, {&b, &a}}};
    for (auto [self_ptr, other_ptr] : pairs) {
        auto& self = *self_ptr;
        auto& other = *other_ptr;
        auto run = verify(io, self, bootstraps);
        ASSERT_TRUE(run);
        expect_ordered_progress(*run);
        for (const auto& s : run->steps) {
            EXPECT_EQ(s.status, Status::passed) << describe(*run);
            EXPECT_TRUE(s.remedy.empty()) << s.id;
            EXPECT_GE(s.duration_ms, 0);
        }
        // The peer listed and pinged is the other one, not the bootstrap nor ourselves.
        EXPECT_TRUE(contains(step(*run, "list_peers").detail, other.id().short_string()))
            << describe(*run);
        EXPECT_TRUE(contains(step(*run, "reachability").detail, other.id().short_string()))
            << describe(*run);
        EXPECT_TRUE(contains(step(*run, "reachability").detail, "pings us back")) << describe(*run);
        EXPECT_FALSE(contains(step(*run, "fetch_remote").detail, self.id().short_string()))
            << describe(*run);
    }
    // The /pk/ record of A was stored remotely (B or the bootstrap has it).
    EXPECT_GE(boot.dht->record_count() + b.dht->record_count(), 1u);
    shut_down_nodes(io, {&a, &b, &boot});
}

// ---- the reverse direction for peers that do not speak /keel/health ------------------------

// B does not serve /keel/health; C joined first, so B's own lookup dialed C: C sees B's inbound
// connection, which shows that B reaches C.
TEST(DiscoveryVerifier, AnInboundConnectionShowsTheReverseDirectionForOtherImplementations) {
    asio::io_context io;
    auto boot = make_node(io, true);
    auto c = make_node(io, true);
    auto b = make_node(io, true, false);
    ASSERT_TRUE(bootstrap(io, c, boot));
    ASSERT_TRUE(bootstrap(io, b, boot));
    ASSERT_TRUE(run_until(
        io, [&] { return c.dht->routing_table().contains(b.id()); }, 10s));
    std::vector<PeerId> bootstraps{boot.id()};
    auto run = verify(io, c, bootstraps);
    ASSERT_TRUE(run);
    const auto& reach = step(*run, "reachability");
    EXPECT_EQ(reach.status, Status::passed) << describe(*run);
    EXPECT_TRUE(contains(reach.detail, b.id().short_string())) << describe(*run);
    EXPECT_TRUE(contains(reach.detail, "opened a connection to us")) << describe(*run);
    shut_down_nodes(io, {&b, &c, &boot});
}

// Now C joins after B: C dialed B, B never dialed C and cannot be asked to ping back, so the
// reverse direction is not shown and the step fails with the NAT/firewall remedy.
TEST(DiscoveryVerifier, NoWayBackFailsReachabilityWithARemedy) {
    asio::io_context io;
    auto boot = make_node(io, true);
    // The bootstrap's first refresh would be due at its refresh loop's first look, 5 s after it
    // started, and its lookups would open Kademlia streams to C: a way back for C, shown by
    // someone else. It refreshes now instead, alone (nothing to look up), which sets its next
    // refresh 10 min away; the loop's wake-up is already queued, so one poll runs it.
    boot.dht->refresh_soon();
    io.restart();
    io.poll();
    auto b = make_node(io, true, false);
    auto c = make_node(io, true);
    ASSERT_TRUE(bootstrap(io, b, boot));
    ASSERT_TRUE(bootstrap(io, c, boot));
    ASSERT_TRUE(run_until(
        io, [&] { return c.dht->routing_table().contains(b.id()); }, 10s));
    std::vector<PeerId> bootstraps{boot.id()};
    auto run = verify(io, c, bootstraps);
    ASSERT_TRUE(run);
    expect_ordered_progress(*run);
    const auto& reach = step(*run, "reachability");
    EXPECT_EQ(reach.status, Status::failed) << describe(*run);
    EXPECT_TRUE(contains(reach.detail, b.id().short_string())) << describe(*run);
    EXPECT_TRUE(contains(reach.remedy, "NAT")) << describe(*run);
    EXPECT_EQ(step(*run, "list_peers").status, Status::passed) << describe(*run);
    shut_down_nodes(io, {&b, &c, &boot});
}

// ---- a network of one ----------------------------------------------------------------------

// `node` bootstraps from `boot` and each is in the other's routing table.
bool join_each_other(asio::io_context& io, Node& node, Node& boot) {
    return bootstrap(io, node, boot) &&
           run_until(
               io,
               [&] {
                   return node.dht->routing_table().contains(boot.id()) &&
                          boot.dht->routing_table().contains(node.id());
               },
               10s);
}

TEST(DiscoveryVerifier, ALoneNodeOnOneBootstrapHasNotEnoughPeersToCheckStepFour) {
    asio::io_context io;
    auto boot = make_node(io, true);
    auto a = make_node(io, true);
    ASSERT_TRUE(join_each_other(io, a, boot));

    std::vector<PeerId> bootstraps{boot.id()};
    auto run = verify(io, a, bootstraps);
    ASSERT_TRUE(run);
    expect_ordered_progress(*run);
    // The DHT works (the bootstrap stores, returns and lists), but nobody else was discovered.
    EXPECT_EQ(step(*run, "routing_table").status, Status::passed) << describe(*run);
    EXPECT_EQ(step(*run, "publish").status, Status::passed) << describe(*run);
    EXPECT_EQ(step(*run, "fetch_remote").status, Status::passed) << describe(*run);
    EXPECT_EQ(step(*run, "provider_visible").status, Status::passed) << describe(*run);
    // ... and the bootstrap knows nobody else either: the network is too small to check step 4,
    // which is neither a pass nor a failure.
    const auto& list = step(*run, "list_peers");
    EXPECT_EQ(list.status, Status::not_enough_peers) << describe(*run);
    EXPECT_TRUE(contains(list.detail, "0 besides the bootstraps")) << describe(*run);
    EXPECT_TRUE(contains(list.detail, "not enough peers")) << describe(*run);
    // The counts it judged by: the bootstrap's FIND_NODE and routing table (us alone).
    EXPECT_TRUE(contains(list.detail, "FIND_NODE named 0, routing table 1")) << describe(*run);
    EXPECT_FALSE(list.remedy.empty());
    EXPECT_EQ(health::overall_result(run->steps), "not_enough_peers") << describe(*run);
    // Reachability falls back to the bootstrap, and says so.
    const auto& reach = step(*run, "reachability");
    EXPECT_EQ(reach.status, Status::passed) << describe(*run);
    EXPECT_TRUE(contains(reach.detail, "bootstrap")) << describe(*run);
    shut_down_nodes(io, {&a, &boot});
}

// C joined the bootstrap, then the bootstrap's Kademlia handler starts answering every request
// with no peers. A joins: it learns nobody through FIND_NODE, yet the bootstrap's routing table
// (C and A) shows there is somebody to discover. That is a fault, not a small network.
TEST(DiscoveryVerifier, PeersTheBootstrapKnowsButDoesNotNameFailStepFour) {
    asio::io_context io;
    auto boot = make_node(io, true);
    auto c = make_node(io, true);
    ASSERT_TRUE(bootstrap(io, c, boot));
    ASSERT_TRUE(run_until(
        io, [&] { return boot.dht->routing_table().contains(c.id()); }, 10s));
    boot.host->set_handler(
        boot.dht->config().profile.kad_protocol,
        [](std::shared_ptr<net::YamuxStream> stream,
           std::shared_ptr<Connection>) -> net::awaitable<void> {
            for (;;) {
                auto bytes = co_await net::with_deadline(
                    net::read_length_prefixed(*stream, kad::max_message_size), 5s);
                if (!bytes) co_return;
                auto request = kad::decode_message(*bytes);
                if (!request) co_return;
                kad::KadMessage empty;  // same type and key, no peers, no record
                empty.type = request->type;
                empty.key = request->key;
                if (co_await net::write_length_prefixed(*stream, kad::encode_message(empty)))
                    co_return;
            }
        });
    auto a = make_node(io, true);
    ASSERT_TRUE(join_each_other(io, a, boot));
    ASSERT_FALSE(a.host->peer_store().get(c.id())) << "A must not have learnt of C";

    std::vector<PeerId> bootstraps{boot.id()};
    auto run = verify(io, a, bootstraps, 3s);
    ASSERT_TRUE(run);
    expect_ordered_progress(*run);
    const auto& list = step(*run, "list_peers");
    EXPECT_EQ(list.status, Status::failed) << describe(*run);
    EXPECT_TRUE(contains(list.detail, "holds 2 peers in its routing table")) << describe(*run);
    EXPECT_TRUE(contains(list.detail, "FIND_NODE named none")) << describe(*run);
    EXPECT_TRUE(contains(list.remedy, "does not share")) << describe(*run);
    EXPECT_EQ(health::overall_result(run->steps), "failed");
    shut_down_nodes(io, {&a, &c, &boot});
}

// ---- a bootstrap that is not a DHT server ------------------------------------------------

TEST(DiscoveryVerifier, NoDhtPeersFailsStepOneAndSkipsWhatNeedsIt) {
    asio::io_context io;
    auto boot = make_node(io, false);  // a DHT client: never in anyone's routing table
    auto a = make_node(io, true);
    auto conn = run_task(io, a.host->connect(boot.addr), 10s);
    ASSERT_TRUE(conn && *conn);
    ASSERT_TRUE(run_task(io, a.host->wait_identified(**conn), 10s));

    std::vector<PeerId> bootstraps{boot.id()};
    auto run = verify(io, a, bootstraps, 3s, 30s);
    ASSERT_TRUE(run);
    expect_ordered_progress(*run);
    EXPECT_EQ(step(*run, "routing_table").status, Status::failed) << describe(*run);
    for (auto id : {"publish", "fetch_remote", "provider_visible"}) {
        EXPECT_EQ(step(*run, id).status, Status::skipped) << describe(*run);
        EXPECT_FALSE(step(*run, id).remedy.empty()) << id;
    }
    EXPECT_EQ(step(*run, "list_peers").status, Status::failed) << describe(*run);
    for (const auto& s : run->steps) {
        if (s.status != Status::passed) {
            EXPECT_FALSE(s.remedy.empty()) << s.id;
        }
    }
    // The peer we are connected to still answers a ping and pings us back.
    EXPECT_EQ(step(*run, "reachability").status, Status::passed) << describe(*run);
    shut_down_nodes(io, {&a, &boot});
}

// ---- nobody at all -----------------------------------------------------------------------

TEST(DiscoveryVerifier, AnIsolatedNodeFailsAtOnceWithRemedies) {
    asio::io_context io;
    auto a = make_node(io, true);
    auto run = verify(io, a, {}, 3s, 10s);
    ASSERT_TRUE(run);
    expect_ordered_progress(*run);
    EXPECT_LT(run->seconds, 3.0) << "nothing to wait for";
    for (const auto& s : run->steps) {
        EXPECT_NE(s.status, Status::passed) << describe(*run);
        EXPECT_FALSE(s.remedy.empty()) << s.id;
    }
    EXPECT_TRUE(contains(step(*run, "routing_table").remedy, "bootstrap"));
    shut_down_nodes(io, {&a});
}

// ---- a DHT that stops answering: every step ends by its deadline ---------------------------

TEST(DiscoveryVerifier, StepsEndAtTheirDeadlineWhenTheDhtGoesSilent) {
    asio::io_context io;
    auto boot = make_node(io, true);
    auto a = make_node(io, true);
    ASSERT_TRUE(bootstrap(io, a, boot));
    ASSERT_TRUE(run_until(
        io, [&] { return a.dht->routing_table().contains(boot.id()); }, 10s));
    // From now on the bootstrap reads Kademlia requests and never answers them.
    auto silence = std::make_shared<asio::steady_timer>(io, net::Clock::time_point::max());
    boot.host->set_handler(boot.dht->config().profile.kad_protocol,
                           [silence](std::shared_ptr<net::YamuxStream>,
                                     std::shared_ptr<Connection>) -> net::awaitable<void> {
                               co_await silence->async_wait(net::use_result);
                           });

    auto step_timeout = 1500ms;
    std::vector<PeerId> bootstraps{boot.id()};
    auto run = verify(io, a, bootstraps, step_timeout, 30s);
    ASSERT_TRUE(run);
    expect_ordered_progress(*run);
    auto limit_ms = std::chrono::duration<double, std::milli>(step_timeout).count() + 500;
    for (const auto& s : run->steps) EXPECT_LT(s.duration_ms, limit_ms) << describe(*run);
    EXPECT_EQ(step(*run, "publish").status, Status::failed) << describe(*run);
    EXPECT_TRUE(contains(step(*run, "publish").detail, "timed out")) << describe(*run);
    EXPECT_EQ(step(*run, "fetch_remote").status, Status::skipped) << describe(*run);
    EXPECT_EQ(step(*run, "provider_visible").status, Status::failed) << describe(*run);
    for (const auto& s : run->steps) {
        if (s.status != Status::passed) {
            EXPECT_FALSE(s.remedy.empty()) << s.id;
        }
    }
    silence->cancel();
    shut_down_nodes(io, {&a, &boot});
}

// ---- /keel/health ping_back over a real connection -------------------------------------------

TEST(KeelHealthPingBack, TheNodePingsTheRequesterOverANewStream) {
    asio::io_context io;
    auto server = make_node(io, true);
    auto client = make_node(io, false, false);
    auto other = make_node(io, false, false);
    // Count the ping streams the server opens to each client.
    auto count_pings = [](Node& node) {
        auto pings = std::make_shared<int>(0);
        node.host->set_handler(std::string(protocols::ping_protocol_id),
                               [pings](std::shared_ptr<net::YamuxStream> stream,
                                       std::shared_ptr<Connection>) -> net::awaitable<void> {
                                   ++*pings;
                                   co_await protocols::serve_ping(*stream, 5s);
                               });
        return pings;
    };
    auto client_pings = count_pings(client);
    auto other_pings = count_pings(other);

    auto ask = [&](Node& from,
                   bool ping_back) -> std::optional<net::result<protocols::HealthStats>> {
        auto conn = run_task(io, from.host->connect(server.addr), 10s);
        if (!conn || !*conn) return std::nullopt;
        auto task = [](Host& host, std::shared_ptr<Connection> c,
                       bool back) -> net::awaitable<net::result<protocols::HealthStats>> {
            std::vector<std::string> wanted{std::string(protocols::health_protocol_id)};
            auto stream = co_await host.new_stream(c, std::move(wanted));
            if (!stream) co_return stream.error().error;
            co_return co_await protocols::request_health(**stream, back);
        };
        return run_task(io, task(*from.host, **conn, ping_back), 10s);
    };

    auto with = ask(client, true);
    ASSERT_TRUE(with && *with) << (with ? with->error().message() : "did not finish");
    EXPECT_TRUE((*with)->ping_back_ok);
    ASSERT_TRUE((*with)->ping_back_ms.has_value());
    EXPECT_GE(*(*with)->ping_back_ms, 0);
    EXPECT_LT(*(*with)->ping_back_ms, 5000);
    EXPECT_EQ(*client_pings, 1) << "the ping back came over a stream the server opened";
    EXPECT_TRUE((*with)->dht_server);
    // Over the connection the client opened: the server did not dial a new one.
    EXPECT_EQ(server.host->connections_to(client.id()).size(), 1u);

    // One request per peer per second, ping back or not: a second one at once is refused.
    auto refused = ask(client, true);
    ASSERT_TRUE(refused);
    EXPECT_FALSE(*refused);
    EXPECT_EQ(*client_pings, 1);

    // Without ping_back nothing is pinged and the answer says so.
    auto without = ask(other, false);
    ASSERT_TRUE(without && *without) << (without ? without->error().message() : "did not finish");
    EXPECT_FALSE((*without)->ping_back_ok);
    EXPECT_FALSE((*without)->ping_back_ms.has_value());
    EXPECT_EQ(*other_pings, 0);
    shut_down_nodes(io, {&client, &other, &server});
}

}  // namespace
}  // namespace keel::test
