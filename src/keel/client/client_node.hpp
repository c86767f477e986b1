#pragma once
// A short-lived node for one job (keel ping, dht, health, verify, p2pd, and keel load's many
// connections): a Host, and a Dht when the job needs one, set up the same way by every command:
// the network's identity (identify's protocol and agent, Kademlia's protocol), one deadline for
// every phase of a connection and of a DHT request, a new identity unless one is given.
// NodeRuntime is the long-lived counterpart (listeners, health monitor, API, persistence).
#include <memory>
#include <optional>

#include "keel/host/host.hpp"
#include "keel/kad/dht.hpp"

namespace keel::client {

struct ClientOptions {
    kad::NetworkProfile network = *kad::network_profile("ipfs");
    std::optional<Ed25519KeyPair> key;  // unset: a new identity
    // Each phase: dial, handshake, identify, protocol negotiation, and one DHT request. Unset:
    // the library's defaults.
    std::optional<net::Duration> phase_timeout;
    std::optional<net::Duration> lookup_timeout;  // a whole DHT lookup
    enum class DhtMode { none, client, server };
    DhtMode dht = DhtMode::client;
    bool inline_muxer = true;
};

HostConfig client_host_config(const ClientOptions& options);
kad::DhtConfig client_dht_config(const ClientOptions& options);

class ClientNode {
  public:
    ClientNode(net::asio::any_io_executor executor, const ClientOptions& options);
    ~ClientNode();

    Host& host() { return *host_; }
    // The DHT; only when the options asked for one.
    kad::Dht& dht() { return *dht_; }
    kad::Dht* dht_if_any() { return dht_.get(); }
    // Stops the DHT and the Host: the io_context then runs out of work.
    void stop();

  private:
    std::unique_ptr<Host> host_;
    std::unique_ptr<kad::Dht> dht_;  // destroyed before the Host it uses
};

}  // namespace keel::client
