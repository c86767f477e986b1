// keel dht table|find-peer|provide|providers|put|get: one DHT operation from a short-lived client
// node that joins through --bootstrap, does the operation with deadlines, prints, and exits.
#include <boost/asio/io_context.hpp>
#include <iostream>
#include <map>
#include <optional>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/base/cid.hpp"
#include "keel/base/hex.hpp"
#include "keel/client/client_node.hpp"
#include "keel/host/host.hpp"
#include "keel/kad/content_key.hpp"
#include "keel/kad/dht.hpp"

namespace keel::cli {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

struct DhtOptions {
    std::string op;
    std::vector<std::string> args;
    std::vector<std::string> bootstrap;
    std::string profile = "ipfs";
    std::string kad_protocol;
    std::string timeout = "30s";
    bool hex_value = false;
    bool json = false;
    std::string log_level = "warn";
};

// "/pk/<peer id>" becomes "/pk/" + the peer ID's multihash bytes; other keys are used as text.
Bytes record_key(const std::string& text) {
    constexpr std::string_view pk = "/pk/";
    if (text.rfind(pk, 0) == 0) {
        if (auto peer = PeerId::parse(text.substr(pk.size()))) {
            Bytes key = to_bytes(pk);
            key.insert(key.end(), peer->bytes().begin(), peer->bytes().end());
            return key;
        }
    }
    return to_bytes(text);
}

json peer_json(const PeerId& id, const std::vector<Multiaddr>& addrs) {
    json a = json::array();
    for (const auto& m : addrs) a.push_back(m.to_string());
    return {{"peer_id", id.to_base58()}, {"addrs", a}};
}

// How many arguments each operation takes; nullopt for an unknown operation. Checked before
// anything touches the network, so a mistake is an exit 2 at once, not a stuck lookup.
std::optional<std::size_t> arguments_of(const std::string& op) {
    static const std::map<std::string, std::size_t> table{
        {"table", 0}, {"find-peer", 1}, {"provide", 1}, {"providers", 1}, {"put", 2}, {"get", 1}};
    auto it = table.find(op);
    if (it == table.end()) return std::nullopt;
    return it->second;
}

// The argument count was checked by run_dht (arguments_of).
net::awaitable<json> run_op(kad::Dht& dht, const DhtOptions& o) {
    if (o.op == "table") {
        json peers = json::array();
        for (const auto& e : dht.routing_table().entries())
            peers.push_back(peer_json(e.id, dht.host().peer_store().get(e.id)
                                                ? dht.host().peer_store().get(e.id)->addrs
                                                : std::vector<Multiaddr>{}));
        co_return json{{"ok", true}, {"size", dht.routing_table().size()}, {"peers", peers}};
    }
    if (o.op == "find-peer") {
        auto peer = PeerId::parse(o.args[0]);
        if (!peer) co_return json{{"ok", false}, {"error", "bad peer ID"}};
        auto addrs = co_await dht.find_peer(*peer);
        if (!addrs) co_return json{{"ok", false}, {"error", addrs.error().message()}};
        auto out = peer_json(*peer, *addrs);
        out["ok"] = true;
        co_return out;
    }
    if (o.op == "provide") {
        auto cid = kad::content_cid(o.args[0]);
        auto n = co_await dht.provide(cid.hash.encode());
        if (!n)
            co_return json{{"ok", false}, {"cid", cid.to_string()}, {"error", n.error().message()}};
        co_return json{{"ok", true},
                       {"cid", cid.to_string()},
                       {"peers", n->sent},
                       {"acknowledged", n->acknowledged}};
    }
    if (o.op == "providers") {
        auto cid = kad::content_cid(o.args[0]);
        auto found = co_await dht.find_providers(cid.hash.encode(), 20);
        json list = json::array();
        for (const auto& p : found) list.push_back(peer_json(p.provider, p.addrs));
        co_return json{{"ok", !found.empty()}, {"cid", cid.to_string()}, {"providers", list}};
    }
    if (o.op == "put") {
        Bytes value = to_bytes(o.args[1]);
        if (o.hex_value) {
            auto decoded = from_hex(o.args[1]);
            if (!decoded) co_return json{{"ok", false}, {"error", "bad hex value"}};
            value = *decoded;
        }
        auto n = co_await dht.put_value(record_key(o.args[0]), value);
        if (!n) co_return json{{"ok", false}, {"error", n.error().message()}};
        co_return json{{"ok", true}, {"peers", *n}};
    }
    if (o.op == "get") {
        auto value = co_await dht.get_value(record_key(o.args[0]));
        if (!value) co_return json{{"ok", false}, {"error", value.error().message()}};
        co_return json{{"ok", true}, {"value_hex", to_hex(*value)}};
    }
    co_return json{{"ok", false}, {"error", "unknown operation " + o.op}};
}

int run_dht(const DhtOptions& o) {
    auto wanted = arguments_of(o.op);
    if (!wanted) {
        std::cerr << "keel dht: unknown operation \"" << o.op
                  << "\" (table | find-peer | provide | providers | put | get)\n";
        return 2;
    }
    if (o.args.size() != *wanted) {
        std::cerr << "keel dht " << o.op << ": expected " << *wanted << " argument"
                  << (*wanted == 1 ? "" : "s") << ", got " << o.args.size() << "\n";
        return 2;
    }
    setup_logging(o.log_level);
    auto profile = kad::network_profile(o.profile);
    auto timeout = parse_duration(o.timeout);
    if (!profile || !timeout) {
        std::cerr << "keel dht: bad --profile or --timeout\n";
        return 2;
    }
    if (!o.kad_protocol.empty()) profile->kad_protocol = o.kad_protocol;
    std::vector<Multiaddr> bootstrap;
    for (const auto& text : o.bootstrap) {
        auto addr = Multiaddr::parse(text);
        if (!addr) {
            std::cerr << "keel dht: bad --bootstrap " << text << "\n";
            return 2;
        }
        bootstrap.push_back(*addr);
    }
    asio::io_context io;
    client::ClientOptions options;
    options.network = *profile;
    options.lookup_timeout = *timeout;
    client::ClientNode node(io.get_executor(), options);
    // Listening lets the peers we provide to dial us back (and find us by FIND_PEER).
    (void)node.host().listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0"));
    auto& dht = node.dht();
    dht.start();
    json out;
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            auto reached = co_await dht.bootstrap(bootstrap);
            if (reached == 0 && !bootstrap.empty()) {
                out = {{"ok", false}, {"error", "no bootstrap peer reachable"}};
            } else {
                out = co_await run_op(dht, o);
            }
            node.stop();
        },
        asio::detached);
    io.run();
    if (o.json) {
        emit(out);
    } else {
        std::cout << out.dump(2) << "\n";
    }
    return out.value("ok", false) ? 0 : 1;
}

}  // namespace

void add_dht_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<DhtOptions>();
    auto* cmd = app.add_subcommand(
        "dht",
        "One DHT operation: table | find-peer ID | provide KEY | providers KEY | "
        "put KEY VALUE | get KEY");
    cmd->add_option("op", o->op, "Operation")->required();
    cmd->add_option("args", o->args, "Operation arguments");
    cmd->add_option("--bootstrap", o->bootstrap, "Bootstrap multiaddr (repeatable)");
    cmd->add_option("--profile", o->profile, std::string(kad::profile_names))
        ->capture_default_str();
    cmd->add_option("--kad-protocol", o->kad_protocol, "Custom Kademlia protocol ID");
    cmd->add_option("--timeout", o->timeout, "Lookup deadline")->capture_default_str();
    cmd->add_flag("--hex", o->hex_value, "put: VALUE is hex");
    cmd->add_flag("--json", o->json, "Print one JSON object");
    cmd->add_option("--log-level", o->log_level, "trace|debug|info|warn|error|off")
        ->capture_default_str();
    cmd->callback([o, &exit_code]() { exit_code = run_dht(*o); });
}

}  // namespace keel::cli
