#pragma once
// How the per-address limits group the addresses that remote hosts come from. IPv6 hands each host
// a whole /64 (SLAAC, privacy addresses), so counting IPv6 addresses one by one would let one host
// rotate through 2^64 of them; an IPv6 /64 is therefore one host, as one IPv4 address (often a NAT
// standing for a whole LAN) is. A network is what one party typically holds: an IPv4 /24, or an
// IPv6 /48 (a site's allocation).
#include <boost/asio/ip/address.hpp>

#include "keel/net/asio.hpp"

namespace keel {

using IpAddress = net::asio::ip::address;

// An IPv4-mapped IPv6 address as the IPv4 address it is; others unchanged.
IpAddress canonical_address(const IpAddress& address);
// What per-host limits count: the IPv4 address, or the IPv6 address's /64 (as an address).
IpAddress host_of(const IpAddress& address);
// What per-network limits count: the IPv4 /24, or the IPv6 /48 (as an address).
IpAddress network_of(const IpAddress& address);

}  // namespace keel
