#pragma once
// How the per-address limits group the addresses that remote hosts come from. IPv6 hands each LAN
// a whole /64 (SLAAC, privacy addresses) and a home connection commonly a /56 of them, so counting
// IPv6 addresses, or /64s, one by one would let one subscriber rotate past every per-address limit.
// An IPv6 /56 is therefore one "host", as one IPv4 address (often a NAT standing for a home) is;
// go-libp2p's resource manager groups IPv6 connections by /56 too. A network is what one party
// typically holds: an IPv4 /24, or an IPv6 /48 (a site's allocation).
#include <boost/asio/ip/address.hpp>

#include "keel/net/asio.hpp"

namespace keel {

using IpAddress = net::asio::ip::address;

// An IPv4-mapped IPv6 address as the IPv4 address it is; others unchanged.
IpAddress canonical_address(const IpAddress& address);
// What per-host limits count: the IPv4 address, or the IPv6 address's /56 (as an address).
IpAddress host_of(const IpAddress& address);
// What per-network limits count: the IPv4 /24, or the IPv6 /48 (as an address).
IpAddress network_of(const IpAddress& address);

}  // namespace keel
