#pragma once
// /dnsaddr/<host> addresses (multiformats/multiaddr protocols/DNSADDR.md): the TXT records of
// _dnsaddr.<host> each hold "dnsaddr=<multiaddr>". When the address ends in /p2p/ID only records
// whose multiaddr ends in that same /p2p/ID count. A record may itself be a /dnsaddr address,
// which is resolved in turn (up to dnsaddr_max_depth levels).
//
// The TXT lookup uses glibc's resolver (res_nquery), a blocking call: it runs on the worker pool
// of keel/net/blocking_calls.hpp, so the I/O thread never blocks and the deadline holds.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/udp.hpp>
#include <boost/system/error_code.hpp>

#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/asio.hpp"

namespace keel {

enum class dnsaddr_errc {
    no_records = 1,  // no usable "dnsaddr=" TXT record (for the peer ID dialed, if any)
    too_deep,        // only nested /dnsaddr records, beyond the recursion limit
    bad_name,        // the /dnsaddr host is not a valid DNS name
};

const boost::system::error_category& dnsaddr_category() noexcept;
inline boost::system::error_code make_error_code(dnsaddr_errc e) noexcept {
    return {static_cast<int>(e), dnsaddr_category()};
}

inline constexpr std::size_t dnsaddr_max_depth = 4;     // nested /dnsaddr levels followed
inline constexpr std::size_t dnsaddr_max_addrs = 32;    // addresses returned, at most
inline constexpr std::size_t dnsaddr_max_lookups = 16;  // TXT queries per resolution

struct DnsaddrRecords {
    std::vector<Multiaddr> addrs;  // in record order; nested /dnsaddr entries included as such
    std::size_t malformed = 0;     // not "dnsaddr=<valid multiaddr>"
    std::size_t other_peer = 0;    // valid, but for another peer ID than the one dialed
};

// True if the address starts with /dnsaddr.
bool is_dnsaddr(const Multiaddr& addr);
// The peer ID of the last /p2p component, if any (a relay address ends in the target's ID).
std::optional<PeerId> last_peer_id(const Multiaddr& addr);
// "_dnsaddr.<host>" for /dnsaddr/<host>/...; nullopt if `addr` is not a /dnsaddr address or its
// host is not a plausible DNS name.
std::optional<std::string> dnsaddr_query_name(const Multiaddr& addr);

// Pure parsing of the TXT strings of _dnsaddr.<host>: keeps "dnsaddr=<multiaddr>" entries (other
// TXT strings are counted as malformed), and when `peer` is given only those whose last /p2p
// component is `peer`. A nested /dnsaddr entry without any /p2p is kept too: its own records are
// filtered when it is resolved. Duplicates are dropped.
DnsaddrRecords parse_dnsaddr_txt(const std::vector<std::string>& txt,
                                 const std::optional<PeerId>& peer);

// Sends TXT queries to this IPv4 nameserver instead of those in /etc/resolv.conf (process-wide;
// nullopt restores the system's). For tests with a local DNS server, and for operators who want a
// specific resolver.
void set_dnsaddr_nameserver(std::optional<net::asio::ip::udp::endpoint> nameserver);

// One blocking TXT query (libresolv), answering each record's character-strings concatenated.
// An existing name without TXT records answers an empty list; NXDOMAIN is
// asio::error::host_not_found. `timeout` bounds the resolver's retransmissions (roughly).
net::result<std::vector<std::string>> query_txt(const std::string& name, net::Duration timeout);

// Resolves a /dnsaddr address to the addresses it stands for, following nested /dnsaddr records
// breadth first (queries of one level in parallel) within the limits above; `timeout` bounds the
// whole resolution. Non-/dnsaddr input passes through unchanged. Partial answers (some lookups
// failed or timed out) are returned as long as at least one address resolved.
net::awaitable<net::result<std::vector<Multiaddr>>> resolve_dnsaddr(Multiaddr addr,
                                                                    net::Duration timeout);

}  // namespace keel

template <>
struct boost::system::is_error_code_enum<keel::dnsaddr_errc> : std::true_type {};
