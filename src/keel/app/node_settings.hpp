#pragma once
// Everything a running node can be told, with the defaults a user gets when they say nothing.
// Sources, later ones winning: these defaults, a TOML file (`--config`, docs/configuration.md),
// command-line flags. Every figure the health and failover logic uses is here.
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "keel/health/discovery_verifier.hpp"
#include "keel/health/health_monitor.hpp"
#include "keel/host/host.hpp"
#include "keel/kad/dht.hpp"
#include "keel/relay/relay_config.hpp"

namespace keel::app {

// A startup mistake: bad file, unknown key, wrong type, unusable value. The message names the
// file, the line and the key.
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class NodeRole { node, bootstrap };

struct NodeSettings {
    // [node]
    std::vector<std::string> listen{"/ip4/127.0.0.1/tcp/4001"};
    std::vector<std::string> bootstrap;  // multiaddrs ending in /p2p/ID, or /dnsaddr/HOST
    std::string data_dir;                // empty: $KEEL_DATA_DIR or ~/.local/share/keel
    std::string identity;                // empty: DATA_DIR/identity.key
    std::string profile = "ipfs";        // ipfs | chiral | chiral-v1
    std::string kad_protocol;            // overrides the profile's
    std::string agent_version;           // identify agentVersion; overrides the profile's
    bool dht_server = false;             // a bootstrap always serves
    bool inline_muxer = true;            // offer Yamux inside the Noise handshake
    std::string api = "127.0.0.1:5080";  // HOST:PORT of the HTTP API, or "off"
    bool api_allow_remote = false;       // required for an API address that is not loopback
    std::string ui_dir;                  // static files of the web UI, served at /
    std::string log_level = "info";
    // Where others reach us (a public IP, a DNS name), when not at the listen addresses: what
    // identify and relay reservations tell peers. Multiaddrs without /p2p.
    std::vector<std::string> announce;

    // [relay]: Circuit Relay v2 server (relay/relay_config.hpp). On for a bootstrap.
    bool relay_enabled = false;
    // Relay client (keel node): "auto" reserves a slot on the bootstraps when no listen or
    // announce address is public (behind NAT), "on" always, "off" never. /p2p-circuit addresses
    // are dialable unless "off".
    std::string relay_client = "auto";
    std::size_t relay_max_reservations = 128;
    std::size_t relay_max_reservations_per_ip = 8;
    net::Duration relay_reservation_ttl{3'600'000};
    double relay_reservation_rate_per_peer = 0.1;
    double relay_reservation_rate_per_ip = 1;
    std::size_t relay_max_circuits = 0;           // 0: the profile's (below)
    std::size_t relay_max_circuits_per_peer = 0;  // 0: the profile's
    std::size_t relay_circuit_bytes = 0;          // each direction; 0: the profile's (below)
    net::Duration relay_circuit_duration{0};      // 0: the profile's

    // [connect]: each phase of a dial has its own deadline, so a hanging peer costs one of them.
    net::Duration dial_timeout{10'000};       // TCP connect and DNS
    net::Duration handshake_timeout{10'000};  // multistream + Noise + muxer
    net::Duration identify_timeout{10'000};
    net::Duration negotiate_timeout{10'000};  // protocol negotiation on a new stream
    net::Duration bootstrap_stagger{250};     // between parallel dials of the bootstrap list

    // [health]
    net::Duration probe_interval{30'000};
    net::Duration probe_timeout{10'000};  // ping, FIND_NODE and /keel/health, each
    double degraded_latency_ms = 1000;
    net::Duration backoff_initial{1000};
    net::Duration backoff_max{60'000};
    double backoff_jitter = 0.2;

    // [limits]: going over one refuses cleanly and is counted in /metrics.
    std::size_t max_connections = 4096;
    std::size_t max_pending_inbound = 256;         // connections still in their handshake
    std::size_t max_pending_inbound_per_ip = 32;   // of those, from one address (0: no cap)
    std::size_t max_connections_per_ip = 64;       // inbound, from one address (0: no cap)
    std::size_t max_connections_per_subnet = 256;  // inbound, from one /24 or /64 (0: no cap)
    double inbound_rate_per_ip = 10;               // new inbound per second, one address (0: off)
    std::size_t inbound_burst_per_ip = 40;         // ... this many at once
    bool limits_exempt_loopback = true;            // TOML exempt_loopback: no per-address limits
    std::size_t max_streams_per_connection =
        512;  // inbound Yamux streams open at once (as rust-libp2p)
    // What remote peers can make the node hold (docs/security.md): unread stream data (all
    // connections / one connection), how long an answer may wait for a peer that does not read,
    // the DHT's provider records and values held for others, and how fast one peer or address
    // may store.
    std::size_t max_buffered_bytes = 64 * 1024 * 1024;
    std::size_t max_buffered_per_connection = 8 * 1024 * 1024;
    net::Duration stream_write_timeout{10'000};
    // A peer that disconnected and is in no routing table is forgotten (key, addresses,
    // protocols) this long after: a bootstrap meets millions of peers and needs none of them
    // once they are gone.
    net::Duration forget_peers_after{120'000};
    std::size_t provider_store_bytes = 64 * 1024 * 1024;
    std::size_t record_store_bytes = 32 * 1024 * 1024;
    double store_rate_per_peer = 200;  // ADD_PROVIDER + PUT_VALUE per second, one peer ...
    double store_rate_per_ip = 100;    // ... and one address (loopback exempt as above)

    // [dht]
    std::size_t k = 20;
    std::size_t alpha = 3;
    net::Duration rpc_timeout{10'000};
    net::Duration lookup_timeout{60'000};
    net::Duration refresh_interval{600'000};
    // Other peers' private and loopback addresses in FIND_NODE / GET_PROVIDERS answers: "share",
    // "hide" (public and /p2p-circuit ones only), or "auto": hide when this node has a public
    // address (a bootstrap on the internet), share otherwise (a LAN, tests on loopback).
    std::string private_addresses = "auto";

    // [verify]
    net::Duration step_timeout{10'000};

    static NodeSettings defaults(NodeRole role);

    // The API's address, or nullopt for "off". Throws ConfigError for anything but a whole
    // HOST:PORT, and for an address that is not loopback unless api_allow_remote.
    std::optional<net::asio::ip::tcp::endpoint> api_endpoint() const;

    // The pieces the library takes, built from the settings above.
    HostConfig host_config(Ed25519KeyPair identity) const;  // throws ConfigError (announce)
    kad::DhtConfig dht_config(NodeRole role) const;  // throws ConfigError on an unknown profile
    health::MonitorConfig monitor_config() const;
    health::VerifierConfig verifier_config() const;
    // Circuit limits default to go-libp2p's and rust-libp2p's (128 KiB, 2 min) and, for the
    // chiral profiles, to Chiral's relay (128 MiB, 30 min: files travel over circuits).
    relay::RelayConfig relay_config() const;
};

// Applies a TOML document over `settings`. Unknown sections and keys are errors (a typo must not
// silently leave a default in place), as are wrong types and unparsable durations.
void apply_config_text(std::string_view toml_text, std::string_view source_name,
                       NodeSettings& settings);
void apply_config_file(const std::filesystem::path& path, NodeSettings& settings);

}  // namespace keel::app
