#pragma once
// Converting between multiaddrs and TCP endpoints, and resolving /dns* names.
#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <vector>

#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/asio.hpp"

namespace keel {

// /ip4/A/tcp/P or /ip6/A/tcp/P (a trailing /p2p/ID is allowed); nullopt for anything else.
std::optional<net::asio::ip::tcp::endpoint> tcp_endpoint(const Multiaddr& addr);
// An address others on the internet can dial: a DNS name, or an IP that is not loopback, private
// (RFC 1918, fc00::/7), carrier-grade NAT (100.64.0.0/10), link-local or unspecified.
bool is_public_address(const Multiaddr& addr);
Multiaddr tcp_multiaddr(const net::asio::ip::tcp::endpoint& endpoint);

// How far an address reaches, judged by its first component (an IP or a DNS name) whatever
// follows: a /p2p-circuit address reaches as far as its relay.
enum class AddressScope { unusable, loopback, private_network, internet };
AddressScope address_scope(const Multiaddr& addr);
// The listen addresses a peer told us (identify) that are worth dialing later, given where we
// see it from (the connection's remote address), as go-libp2p's identify filters them: over
// loopback all of them; over a private network all but loopback; over the internet (a relayed
// connection included) only those that reach the internet. A peer behind a NAT names its LAN and
// loopback addresses, which would reach someone else, or ourselves, from here.
std::vector<Multiaddr> addresses_worth_keeping(std::vector<Multiaddr> told,
                                               const Multiaddr& seen_at);
// A connected socket's two ends as multiaddrs; empty when the socket has no such end any more.
Multiaddr remote_multiaddr(const net::asio::ip::tcp::socket& socket);
Multiaddr local_multiaddr(const net::asio::ip::tcp::socket& socket);
// True for what resolve_tcp and a plain TCP dial can use: /ip4, /ip6, /dns, /dns4 or /dns6, then
// /tcp/P, then nothing but /p2p/ID (so no /ws, /tls, /quic-v1, ... on top).
bool is_tcp_dialable(const Multiaddr& addr);
// /dns/H/tcp/P, /dns4/... or /dns6/... resolved to endpoints of the matching family, within
// `timeout` (net_errc::timeout past it, whatever the DNS server does: the lookup runs on the
// worker pool of keel/net/blocking_calls.hpp; operation_aborted at once if the caller's
// cancellation slot fires first); ip addresses pass through. /dnsaddr needs a TXT
// lookup and is refused here: Host::dial expands it first (keel/host/dnsaddr.hpp).
net::awaitable<net::result<std::vector<net::asio::ip::tcp::endpoint>>> resolve_tcp(
    Multiaddr addr, net::Duration timeout);

}  // namespace keel
