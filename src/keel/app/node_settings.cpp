// The only translation unit that includes toml++ (it is header-only and heavy).
#include "keel/app/node_settings.hpp"

// toml++ 3.3's parser asserts that a table header's key starts with a key character or a quote;
// "[#x]" or "[" then a NUL breaks that (found by fuzz_config), and the assert() aborted debug
// builds on a bad config file. Without it the parser reports the parse error it reports in
// release builds (on GCC, where its TOML_ASSUME is a no-op).
#define TOML_ASSERT(expr) static_cast<void>(0)
#include <toml++/toml.h>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "keel/app/duration.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include "keel/net/log.hpp"

namespace keel::app {

NodeSettings NodeSettings::defaults(NodeRole role) {
    NodeSettings s;
    // A bootstrap serves no API unless asked (e.g. api = "127.0.0.1:9464" for Prometheus).
    if (role == NodeRole::bootstrap) s.api = "off";
    s.relay_enabled = role == NodeRole::bootstrap;
    return s;
}

HostConfig NodeSettings::host_config(Ed25519KeyPair identity_key) const {
    HostConfig c(std::move(identity_key));
    c.inline_muxer = inline_muxer;
    c.dial_timeout = dial_timeout;
    c.handshake_timeout = handshake_timeout;
    c.identify_timeout = identify_timeout;
    c.negotiate_timeout = negotiate_timeout;
    c.max_connections = max_connections;
    c.max_pending_inbound = max_pending_inbound;
    c.max_pending_inbound_per_ip = max_pending_inbound_per_ip;
    c.max_connections_per_ip = max_connections_per_ip;
    c.max_connections_per_subnet = max_connections_per_subnet;
    c.inbound_rate_per_ip = inbound_rate_per_ip;
    c.inbound_burst_per_ip = inbound_burst_per_ip;
    c.limits_exempt_loopback = limits_exempt_loopback;
    c.yamux.max_inbound_streams = max_streams_per_connection;
    c.yamux.max_buffered_per_connection = max_buffered_per_connection;
    c.yamux.write_timeout = stream_write_timeout;
    c.forget_peers_after = forget_peers_after;
    c.max_buffered_bytes = max_buffered_bytes;
    if (auto p = kad::network_profile(profile)) kad::apply_identity(*p, c);
    if (!agent_version.empty()) c.agent_version = agent_version;
    for (const auto& text : announce) {
        std::string why;
        auto addr = Multiaddr::parse(text, &why);
        if (!addr) throw ConfigError("announce " + text + ": " + why);
        c.announce_addrs.push_back(*addr);
    }
    return c;
}

kad::DhtConfig NodeSettings::dht_config(NodeRole role) const {
    kad::DhtConfig c;
    auto p = kad::network_profile(profile);
    if (!p)
        throw ConfigError("unknown profile \"" + profile + "\" (" +
                          std::string(kad::profile_names) + ")");
    if (!kad_protocol.empty()) p->kad_protocol = kad_protocol;
    c.profile = *p;
    c.server_mode = role == NodeRole::bootstrap || dht_server;
    if (private_addresses != "auto" && private_addresses != "share" && private_addresses != "hide")
        throw ConfigError("dht.private_addresses " + private_addresses +
                          ": expected auto, share or hide");
    c.share_private_addrs = private_addresses != "hide";
    c.k = k;
    c.alpha = alpha;
    c.rpc_timeout = rpc_timeout;
    c.lookup_timeout = lookup_timeout;
    c.refresh_interval = refresh_interval;
    c.bootstrap_stagger = bootstrap_stagger;
    c.provider_limits.max_bytes = provider_store_bytes;
    c.max_record_bytes = record_store_bytes;
    c.store_rate_per_peer = store_rate_per_peer;
    c.store_burst_per_peer = static_cast<std::size_t>(store_rate_per_peer * 10);
    c.store_rate_per_ip = store_rate_per_ip;
    c.store_burst_per_ip = static_cast<std::size_t>(store_rate_per_ip * 10);
    c.store_limits_exempt_loopback = limits_exempt_loopback;
    return c;
}

health::MonitorConfig NodeSettings::monitor_config() const {
    health::MonitorConfig c;
    c.probe_interval = probe_interval;
    c.probe.timeout = probe_timeout;
    c.probe.thresholds.degraded_latency_ms = degraded_latency_ms;
    c.backoff.initial = backoff_initial;
    c.backoff.max = backoff_max;
    c.backoff.jitter = backoff_jitter;
    return c;
}

health::VerifierConfig NodeSettings::verifier_config() const {
    health::VerifierConfig c;
    c.step_timeout = step_timeout;
    return c;
}

relay::RelayConfig NodeSettings::relay_config() const {
    relay::RelayConfig c;
    c.max_reservations = relay_max_reservations;
    c.max_reservations_per_ip = relay_max_reservations_per_ip;
    c.reservation_ttl = relay_reservation_ttl;
    c.reservation_rate_per_peer = relay_reservation_rate_per_peer;
    c.reservation_rate_per_ip = relay_reservation_rate_per_ip;
    // The chiral profiles take Chiral's relay server's limits: files move over circuits, and
    // every NATed client of a file-sharing network is a DHT server that the others reach
    // through its reservation (4 circuits per peer ran out with five NATed peers).
    const bool chiral = profile.starts_with("chiral");
    c.max_circuits = relay_max_circuits ? relay_max_circuits : chiral ? 256 : c.max_circuits;
    c.max_circuits_per_peer = relay_max_circuits_per_peer ? relay_max_circuits_per_peer
                              : chiral                    ? 16
                                                          : c.max_circuits_per_peer;
    c.circuit_bytes = relay_circuit_bytes ? relay_circuit_bytes
                      : chiral            ? std::uint64_t{128} * 1024 * 1024
                                          : c.circuit_bytes;
    c.circuit_duration = relay_circuit_duration.count() > 0 ? relay_circuit_duration
                         : chiral                           ? net::Duration{30 * 60'000}
                                                            : c.circuit_duration;
    c.exempt_loopback = limits_exempt_loopback;
    c.message_timeout = negotiate_timeout;
    return c;
}

namespace {

// One key's reader: takes the TOML node, stores into the settings, throws ConfigError(reason).
using KeyReader = std::function<void(const toml::node&, NodeSettings&)>;

std::string where(const toml::node& node, std::string_view source, std::string_view key) {
    std::ostringstream out;
    out << source << ":" << node.source().begin.line << ": " << key;
    return out.str();
}

KeyReader text(std::string NodeSettings::*field) {
    return [field](const toml::node& n, NodeSettings& s) {
        auto v = n.value<std::string>();
        if (!v) throw ConfigError("expected a string");
        s.*field = *v;
    };
}

KeyReader flag(bool NodeSettings::*field) {
    return [field](const toml::node& n, NodeSettings& s) {
        auto v = n.value<bool>();
        if (!v) throw ConfigError("expected true or false");
        s.*field = *v;
    };
}

KeyReader text_list(std::vector<std::string> NodeSettings::*field) {
    return [field](const toml::node& n, NodeSettings& s) {
        const auto* array = n.as_array();
        if (!array) throw ConfigError("expected an array of strings");
        std::vector<std::string> out;
        for (const auto& item : *array) {
            auto v = item.value<std::string>();
            if (!v) throw ConfigError("expected an array of strings");
            out.push_back(*v);
        }
        s.*field = std::move(out);
    };
}

KeyReader duration(net::Duration NodeSettings::*field, bool allow_zero = false) {
    return [field, allow_zero](const toml::node& n, NodeSettings& s) {
        auto v = n.value<std::string>();
        std::optional<std::chrono::milliseconds> d;
        if (v) d = parse_duration(*v);
        if (!d)
            throw ConfigError(
                "expected a duration such as \"250ms\", \"10s\" or \"2m\" (at most 7 days)");
        if (d->count() == 0 && !allow_zero) throw ConfigError("must be greater than zero");
        s.*field = *d;
    };
}

void log_level(const toml::node& n, NodeSettings& s) {
    auto v = n.value<std::string>();
    if (!v || !parse_log_level(*v))
        throw ConfigError("expected trace, debug, info, warn, error, critical or off");
    s.log_level = *v;
}

KeyReader count(std::size_t NodeSettings::*field, std::int64_t min, std::int64_t max) {
    return [field, min, max](const toml::node& n, NodeSettings& s) {
        auto v = n.value_exact<std::int64_t>();
        if (!v || *v < min || *v > max)
            throw ConfigError("expected an integer from " + std::to_string(min) + " to " +
                              std::to_string(max));
        s.*field = static_cast<std::size_t>(*v);
    };
}

KeyReader fraction(double NodeSettings::*field, double min, double max) {
    return [field, min, max](const toml::node& n, NodeSettings& s) {
        auto v = n.value<double>();
        if (!v || *v < min || *v > max) {
            std::ostringstream why;
            why << "expected a number from " << min << " to " << max;
            throw ConfigError(why.str());
        }
        s.*field = *v;
    };
}

// Sets every phase of a dial at once.
void connect_timeout(const toml::node& n, NodeSettings& s) {
    duration (&NodeSettings::dial_timeout)(n, s);
    s.handshake_timeout = s.identify_timeout = s.negotiate_timeout = s.dial_timeout;
}

const std::map<std::string, std::map<std::string, KeyReader>>& schema() {
    using S = NodeSettings;
    static const std::map<std::string, std::map<std::string, KeyReader>> table{
        {"node",
         {{"listen", text_list(&S::listen)},
          {"bootstrap", text_list(&S::bootstrap)},
          {"data_dir", text(&S::data_dir)},
          {"identity", text(&S::identity)},
          {"profile", text(&S::profile)},
          {"kad_protocol", text(&S::kad_protocol)},
          {"agent_version", text(&S::agent_version)},
          {"dht_server", flag(&S::dht_server)},
          {"inline_muxer", flag(&S::inline_muxer)},
          {"api", text(&S::api)},
          {"api_allow_remote", flag(&S::api_allow_remote)},
          {"ui_dir", text(&S::ui_dir)},
          {"announce", text_list(&S::announce)},
          {"log_level", log_level}}},
        {"relay",
         {{"enabled", flag(&S::relay_enabled)},
          {"client", text(&S::relay_client)},
          {"max_reservations", count(&S::relay_max_reservations, 0, 1'000'000)},
          {"max_reservations_per_ip", count(&S::relay_max_reservations_per_ip, 0, 1'000'000)},
          {"reservation_ttl", duration(&S::relay_reservation_ttl)},
          {"reservation_rate_per_peer", fraction(&S::relay_reservation_rate_per_peer, 0, 1e6)},
          {"reservation_rate_per_ip", fraction(&S::relay_reservation_rate_per_ip, 0, 1e6)},
          {"max_circuits", count(&S::relay_max_circuits, 0, 1'000'000)},
          {"max_circuits_per_peer", count(&S::relay_max_circuits_per_peer, 0, 1'000'000)},
          {"circuit_bytes", count(&S::relay_circuit_bytes, 0, 1LL << 40)},
          {"circuit_duration", duration(&S::relay_circuit_duration, true)}}},
        {"connect",
         {{"timeout", connect_timeout},
          {"dial_timeout", duration(&S::dial_timeout)},
          {"handshake_timeout", duration(&S::handshake_timeout)},
          {"identify_timeout", duration(&S::identify_timeout)},
          {"negotiate_timeout", duration(&S::negotiate_timeout)},
          {"bootstrap_stagger", duration(&S::bootstrap_stagger, true)}}},
        {"health",
         {{"probe_interval", duration(&S::probe_interval)},
          {"probe_timeout", duration(&S::probe_timeout)},
          {"degraded_latency_ms", fraction(&S::degraded_latency_ms, 1, 600'000)},
          {"backoff_initial", duration(&S::backoff_initial)},
          {"backoff_max", duration(&S::backoff_max)},
          {"backoff_jitter", fraction(&S::backoff_jitter, 0, 1)}}},
        {"dht",
         {{"k", count(&S::k, 1, 1000)},
          {"alpha", count(&S::alpha, 1, 100)},
          {"rpc_timeout", duration(&S::rpc_timeout)},
          {"lookup_timeout", duration(&S::lookup_timeout)},
          {"refresh_interval", duration(&S::refresh_interval)},
          {"private_addresses", text(&S::private_addresses)}}},
        {"verify", {{"step_timeout", duration(&S::step_timeout)}}},
        {"limits",
         {{"max_connections", count(&S::max_connections, 1, 1'000'000)},
          {"max_pending_inbound", count(&S::max_pending_inbound, 1, 1'000'000)},
          {"max_pending_inbound_per_ip", count(&S::max_pending_inbound_per_ip, 0, 1'000'000)},
          {"max_connections_per_ip", count(&S::max_connections_per_ip, 0, 1'000'000)},
          {"max_connections_per_subnet", count(&S::max_connections_per_subnet, 0, 1'000'000)},
          {"inbound_rate_per_ip", fraction(&S::inbound_rate_per_ip, 0, 100'000)},
          {"inbound_burst_per_ip", count(&S::inbound_burst_per_ip, 1, 1'000'000)},
          {"exempt_loopback", flag(&S::limits_exempt_loopback)},
          {"max_streams_per_connection", count(&S::max_streams_per_connection, 1, 65'536)},
          {"max_buffered_bytes", count(&S::max_buffered_bytes, 1 << 20, 1LL << 40)},
          {"max_buffered_per_connection",
           count(&S::max_buffered_per_connection, 256 * 1024, 1LL << 40)},
          {"stream_write_timeout", duration(&S::stream_write_timeout)},
          {"forget_peers_after", duration(&S::forget_peers_after)},
          {"provider_store_bytes", count(&S::provider_store_bytes, 1 << 20, 1LL << 40)},
          {"record_store_bytes", count(&S::record_store_bytes, 1 << 20, 1LL << 40)},
          {"store_rate_per_peer", fraction(&S::store_rate_per_peer, 0.1, 1e6)},
          {"store_rate_per_ip", fraction(&S::store_rate_per_ip, 0.1, 1e6)}}},
    };
    return table;
}

// toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable, undefined behaviour, when it asks
// whether one of these code points is whitespace (its generated table has no answer for them;
// found by fuzz_config, tests/fuzz/regressions/config/). It asks wherever a key or value may
// start, inside a malformed bare value, and in multi-line strings after a backslash.
bool toml_cannot_classify(std::uint32_t c) {
    return (c >= 0xA1 && c <= 0x499) || (c >= 0x2C5E && c <= 0x3057 && c != 0x3000) ||
           (c >= 0xFB26 && c <= 0xFEFE);
}

// A well-formed two- or three-byte UTF-8 sequence at `at` (the only lengths those code points
// have): its code point and length.
std::optional<std::pair<std::uint32_t, std::size_t>> utf8_at(std::string_view text,
                                                             std::size_t at) {
    const auto byte = [&](std::size_t i) -> unsigned {
        return at + i < text.size() ? static_cast<unsigned char>(text[at + i]) : 0u;
    };
    const auto continuation = [&](std::size_t i) { return (byte(i) & 0xC0) == 0x80; };
    const unsigned lead = byte(0);
    if (lead >= 0xC2 && lead <= 0xDF && continuation(1))
        return std::pair{((lead & 0x1Fu) << 6) | (byte(1) & 0x3Fu), std::size_t{2}};
    if (lead >= 0xE0 && lead <= 0xEF && continuation(1) && continuation(2)) {
        const std::uint32_t c =
            ((lead & 0x0Fu) << 12) | ((byte(1) & 0x3Fu) << 6) | (byte(2) & 0x3Fu);
        if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return std::nullopt;
        return std::pair{c, std::size_t{3}};
    }
    return std::nullopt;
}

// The text toml++ is given: those code points never reach it. In basic strings they become the
// \uXXXX escape of themselves (the same value); in comments non-ASCII bytes become spaces (a
// comment has no value); anywhere else, and in literal strings (which have no escapes), the file
// is refused with its line. Lines stay where they were, so toml++'s errors name the right one.
std::string toml_text_for_parser(std::string_view text, std::string_view source_name) {
    enum class In { code, comment, basic, literal, multi_basic, multi_literal } in = In::code;
    std::size_t line = 1;
    std::string out;
    out.reserve(text.size());
    const auto refuse = [&](std::uint32_t c, std::string_view where) {
        char code[16];
        std::snprintf(code, sizeof code, "%04X", static_cast<unsigned>(c));
        throw ConfigError(std::string(source_name) + ":" + std::to_string(line) + ": U+" + code +
                          " " + std::string(where) +
                          " (toml++ 3.3 cannot read it there; in a \"string\" write \\u" + code +
                          ")");
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const auto next_is = [&](std::string_view s) { return text.substr(i, s.size()) == s; };
        if (c == '\n') {
            ++line;
            if (in == In::comment || in == In::basic || in == In::literal) in = In::code;
            out += c;
            continue;
        }
        const auto decoded = (c & 0x80) != 0 ? utf8_at(text, i) : std::nullopt;
        const bool unclassifiable = decoded && toml_cannot_classify(decoded->first);
        switch (in) {
            case In::code:
                if (unclassifiable) refuse(decoded->first, "outside a string or comment");
                if (c == '#') {
                    in = In::comment;
                } else if (next_is(R"(""")")) {
                    in = In::multi_basic, out += R"("")", i += 2;
                } else if (next_is("'''")) {
                    in = In::multi_literal, out += "''", i += 2;
                } else if (c == '"') {
                    in = In::basic;
                } else if (c == '\'') {
                    in = In::literal;
                }
                out += c;
                break;
            case In::comment:
                out += (c & 0x80) != 0 ? ' ' : c;
                break;
            case In::basic:
            case In::multi_basic:
                if (unclassifiable) {
                    char escape[8];
                    std::snprintf(escape, sizeof escape, "\\u%04X",
                                  static_cast<unsigned>(decoded->first));
                    out += escape;
                    i += decoded->second - 1;
                    break;
                }
                if (c == '\\' && i + 1 < text.size()) {
                    // An escape: its second character never ends the string. (A line-ending
                    // backslash's newline is counted above; a non-ASCII one is toml++'s error,
                    // unless toml++ cannot classify it.)
                    if (auto after = utf8_at(text, i + 1);
                        after && toml_cannot_classify(after->first))
                        refuse(after->first, "after a backslash");
                    out += c;
                    if (text[i + 1] != '\n' && (text[i + 1] & 0x80) == 0) out += text[++i];
                    break;
                }
                if (in == In::basic ? c == '"' : next_is(R"(""")")) {
                    if (in == In::multi_basic) out += R"("")", i += 2;
                    in = In::code;
                }
                out += c;
                break;
            case In::literal:
            case In::multi_literal:
                if (unclassifiable) refuse(decoded->first, "in a 'literal string'");
                if (in == In::literal ? c == '\'' : next_is("'''")) {
                    if (in == In::multi_literal) out += "''", i += 2;
                    in = In::code;
                }
                out += c;
                break;
        }
    }
    return out;
}

}  // namespace

void apply_config_text(std::string_view toml_text, std::string_view source_name,
                       NodeSettings& settings) {
    const auto parser_text = toml_text_for_parser(toml_text, source_name);
    toml::table doc;
    try {
        doc = toml::parse(parser_text, source_name);
    } catch (const toml::parse_error& e) {
        std::ostringstream out;
        out << source_name << ":" << e.source().begin.line << ": " << e.description();
        throw ConfigError(out.str());
    }
    const auto& sections = schema();
    for (const auto& [section_key, section_node] : doc) {
        std::string section(section_key.str());
        auto known = sections.find(section);
        if (known == sections.end())
            throw ConfigError(where(section_node, source_name, section) + ": unknown section");
        const auto* table = section_node.as_table();
        if (!table) throw ConfigError(where(section_node, source_name, section) + ": not a table");
        for (const auto& [key, value] : *table) {
            std::string name = section + "." + std::string(key.str());
            auto reader = known->second.find(std::string(key.str()));
            if (reader == known->second.end())
                throw ConfigError(where(value, source_name, name) + ": unknown key");
            try {
                reader->second(value, settings);
            } catch (const ConfigError& e) {
                throw ConfigError(where(value, source_name, name) + ": " + e.what());
            }
        }
    }
    if (settings.backoff_max < settings.backoff_initial)
        throw ConfigError(std::string(source_name) +
                          ": health.backoff_max is shorter than health.backoff_initial");
}

void apply_config_file(const std::filesystem::path& path, NodeSettings& settings) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path.string() + ": cannot read the file");
    std::ostringstream text;
    text << in.rdbuf();
    apply_config_text(text.str(), path.string(), settings);
}

std::optional<net::asio::ip::tcp::endpoint> NodeSettings::api_endpoint() const {
    if (api == "off") return std::nullopt;
    auto bad = [&]() {
        return ConfigError("api " + api + ": expected HOST:PORT (e.g. 127.0.0.1:5080) or off");
    };
    auto colon = api.rfind(':');
    if (colon == std::string::npos) throw bad();
    auto host = api.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    net::error_code ec;
    auto address = net::asio::ip::make_address(host, ec);
    // The whole port, digits only: "5080x" or "abc" must not become some other port.
    auto port_text = std::string_view(api).substr(colon + 1);
    unsigned port = 0;
    auto [end, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec || port_text.empty() || perr != std::errc{} ||
        end != port_text.data() + port_text.size() || port > 65535)
        throw bad();
    // The API answers anyone who reaches it: reachable from other machines only when the
    // operator says so (and then the runtime logs a warning).
    if (!address.is_loopback() && !api_allow_remote)
        throw ConfigError("api " + api +
                          " is reachable from other machines: anyone there could read and drive "
                          "this node. Use a loopback address (127.0.0.1:PORT), or add "
                          "--api-allow-remote (TOML api_allow_remote = true) to mean it");
    return net::asio::ip::tcp::endpoint{address, static_cast<std::uint16_t>(port)};
}

}  // namespace keel::app
