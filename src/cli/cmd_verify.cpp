// keel verify --bootstrap ADDR…: discovery verification (the brief's six steps) from a
// short-lived node. It listens on 127.0.0.1 (port 0) so that peers can reach it back, joins through
// the bootstraps, waits (bounded by --timeout) until its routing table has a peer, then runs
// health::DiscoveryVerifier and prints each step as it ends (text) or every progress event (one
// JSON object per line with --json) followed by a summary {"ok", "steps"}.
// Exit code, like keel health's: 0 every step passed (healthy), 1 some failed (degraded), 2 the
// routing table stayed empty, so nothing could be checked (down), 3 bad arguments, 4 no step
// failed but some could not be checked because the network is too small (not_enough_peers: only
// us and the bootstraps; not a failure, but not a verification either, so not 0).
#include <boost/asio/io_context.hpp>
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/app/health_json.hpp"
#include "keel/client/client_node.hpp"
#include "keel/health/discovery_verifier.hpp"

namespace keel::cli {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

struct VerifyOptions {
    std::vector<std::string> bootstrap;
    std::string listen = "/ip4/127.0.0.1/tcp/0";
    std::string profile = "ipfs";
    std::string kad_protocol;
    std::string timeout = "10s";
    bool dht_server = false;
    bool json = false;
    std::string log_level = "warn";
};

void print_step(const health::VerificationStep& s, std::size_t index) {
    using Status = health::VerificationStep::Status;
    const char* mark = s.status == Status::passed             ? "✓"
                       : s.status == Status::failed           ? "✗"
                       : s.status == Status::not_enough_peers ? "○"
                                                              : "-";
    std::cout << mark << ' ' << index + 1 << '/' << health::DiscoveryVerifier::step_count << ' '
              << s.title;
    if (s.status == Status::skipped) {
        std::cout << " skipped";
    } else {
        std::cout << " (" << static_cast<long long>(s.duration_ms) << " ms)";
    }
    if (!s.detail.empty()) std::cout << ": " << s.detail;
    if (s.status != Status::passed && !s.remedy.empty()) std::cout << " — " << s.remedy;
    std::cout << std::endl;
}

int run_verify(const VerifyOptions& o) {
    setup_logging(o.log_level);
    auto timeout = parse_duration(o.timeout);
    auto profile = kad::network_profile(o.profile);
    auto listen = Multiaddr::parse(o.listen);
    if (!timeout || !profile || !listen) {
        std::cerr << "keel verify: bad --timeout, --profile or --listen\n";
        return 3;
    }
    if (!o.kad_protocol.empty()) profile->kad_protocol = o.kad_protocol;
    std::vector<Multiaddr> bootstrap;
    std::vector<PeerId> bootstrap_ids;
    for (const auto& text : o.bootstrap) {
        std::string why;
        auto addr = Multiaddr::parse(text, &why);
        std::optional<PeerId> id;
        if (const auto* p2p = addr ? addr->find(proto_code::p2p) : nullptr)
            if (auto parsed = PeerId::from_bytes(p2p->value)) id = *parsed;
        if (!addr || !id) {
            std::cerr << "keel verify: --bootstrap " << text << ": "
                      << (why.empty() ? "must end in /p2p/ID" : why) << "\n";
            return 3;
        }
        bootstrap.push_back(*addr);
        bootstrap_ids.push_back(*id);
    }

    asio::io_context io;
    client::ClientOptions options;
    options.network = *profile;
    options.phase_timeout = options.lookup_timeout = *timeout;
    options.dht = o.dht_server ? client::ClientOptions::DhtMode::server
                               : client::ClientOptions::DhtMode::client;  // steps 2 and 6 store
                                                                          // on servers either way
    client::ClientNode node(io.get_executor(), options);
    auto& host = node.host();
    // Listening lets peers reach us back: the ping back of step 5 and the provider record of
    // step 6 (those who list us dial the addresses we announce).
    if (auto bound = host.listen(*listen); !bound) {
        std::cerr << "keel verify: cannot listen on " << o.listen << ": " << bound.error().message()
                  << "\n";
        return 3;
    }
    auto& dht = node.dht();
    dht.start();

    // "Another user" for step 6 (VerifierConfig::observer): its own identity, no listener.
    options.dht = client::ClientOptions::DhtMode::client;
    client::ClientNode observer(io.get_executor(), options);
    auto& observer_dht = observer.dht();

    health::VerifierConfig verifier_config;
    verifier_config.observer = &observer_dht;
    verifier_config.step_timeout = *timeout;
    verifier_config.bootstrap_peers = bootstrap_ids;
    std::vector<health::VerificationStep> steps;
    health::DiscoveryVerifier::Progress progress = [&](const health::VerificationStep& s,
                                                       std::size_t index) {
        if (o.json) {
            auto event = app::step_to_json(s);
            event["event"] = "step";
            event["index"] = index + 1;
            event["total"] = health::DiscoveryVerifier::step_count;
            emit(event);
        } else if (s.status != health::VerificationStep::Status::running) {
            print_step(s, index);
        }
    };
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            co_await dht.bootstrap(bootstrap);
            // Identify and the first lookup fill the table shortly after the bootstrap answers.
            asio::steady_timer poll(co_await asio::this_coro::executor);
            auto deadline = net::Clock::now() + *timeout;
            while (dht.routing_table().size() == 0 && net::Clock::now() < deadline) {
                poll.expires_after(std::chrono::milliseconds(50));
                co_await poll.async_wait(net::use_result);
            }
            health::DiscoveryVerifier verifier(host, dht, verifier_config);
            steps = co_await verifier.run(progress);
            node.stop();
            observer.stop();
        },
        asio::detached);
    io.run();

    std::string_view result = steps.size() == health::DiscoveryVerifier::step_count
                                  ? health::overall_result(steps)
                                  : "failed";
    json list = json::array();
    std::size_t passed = 0;
    std::size_t unchecked = 0;
    for (const auto& s : steps) {
        list.push_back(app::step_to_json(s));
        if (s.status == health::VerificationStep::Status::passed) ++passed;
        if (s.status == health::VerificationStep::Status::not_enough_peers) ++unchecked;
    }
    if (o.json) {
        emit(json{{"ok", result == "passed"},
                  {"result", std::string(result)},
                  {"peer_id", host.peer_id().to_base58()},
                  {"steps", list}});
    } else if (result == "not_enough_peers") {
        std::cout << "nothing failed, but the network is too small to check everything: " << passed
                  << '/' << health::DiscoveryVerifier::step_count << " steps passed, " << unchecked
                  << " not checked (not enough peers)" << std::endl;
    } else {
        std::cout << (result == "passed" ? "discovery verified" : "discovery NOT verified") << ": "
                  << passed << '/' << health::DiscoveryVerifier::step_count << " steps passed"
                  << std::endl;
    }
    if (result == "passed") return 0;
    if (result == "not_enough_peers") return 4;
    bool joined = !steps.empty() && steps[0].status == health::VerificationStep::Status::passed;
    return joined ? 1 : 2;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<VerifyOptions>();
    auto* cmd = app.add_subcommand(
        "verify",
        "Verify peer discovery in six steps: routing table, publish, fetch from another peer, "
        "discovered peers, bidirectional reachability, provider visibility (exit 0 all passed, 1 "
        "some failed, 2 not joined, 3 bad arguments, 4 none failed but the network is too small "
        "to check them all)");
    cmd->add_option("--bootstrap", o->bootstrap,
                    "Bootstrap multiaddr ending in /p2p/ID (repeatable)")
        ->required();
    cmd->add_option("--listen", o->listen, "Listen address of the verifying node")
        ->capture_default_str();
    cmd->add_option("--profile", o->profile, std::string(kad::profile_names))
        ->capture_default_str();
    cmd->add_option("--kad-protocol", o->kad_protocol, "Custom Kademlia protocol ID");
    cmd->add_option("--timeout", o->timeout, "Deadline of each step (and of the join)")
        ->capture_default_str();
    cmd->add_flag("--dht-server", o->dht_server, "Run the verifying node as a DHT server");
    cmd->add_flag("--json", o->json, "One JSON object per progress event, then a summary");
    cmd->add_option("--log-level", o->log_level, "trace|debug|info|warn|error|off")
        ->capture_default_str();
    cmd->callback([o, &exit_code]() { exit_code = run_verify(*o); });
}

}  // namespace keel::cli
