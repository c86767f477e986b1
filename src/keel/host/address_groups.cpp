#include "keel/host/address_groups.hpp"

#include <algorithm>

namespace keel {

namespace ip = net::asio::ip;

namespace {

// `address` (canonical) with all but its first `v4_bytes` (IPv4) or `v6_bytes` (IPv6) bytes zeroed.
IpAddress prefix(const IpAddress& address, std::size_t v4_bytes, std::size_t v6_bytes) {
    if (address.is_v4()) {
        auto bytes = address.to_v4().to_bytes();
        std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(v4_bytes), bytes.end(), 0);
        return ip::address_v4(bytes);
    }
    auto bytes = address.to_v6().to_bytes();
    std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(v6_bytes), bytes.end(), 0);
    return ip::address_v6(bytes);
}

}  // namespace

IpAddress canonical_address(const IpAddress& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        return ip::make_address_v4(ip::v4_mapped, address.to_v6());
    return address;
}

IpAddress host_of(const IpAddress& address) {
    return prefix(canonical_address(address), 4, 7);
}

IpAddress network_of(const IpAddress& address) {
    return prefix(canonical_address(address), 3, 6);
}

}  // namespace keel
