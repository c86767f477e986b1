#pragma once
// The multiaddr protocol table (multiformats/multiaddr protocols.csv) and the subset we can
// convert between text and binary.
#include <cstdint>
#include <string_view>

namespace keel {

namespace proto_code {
inline constexpr std::uint32_t ip4 = 4, tcp = 6, udp = 273, ip6 = 41, dns = 53, dns4 = 54,
                               dns6 = 55, dnsaddr = 56, p2p = 421, unix = 400;
}  // namespace proto_code

struct ProtocolInfo {
    std::uint32_t code;
    std::string_view name;
    // The value's size as in the table: none, fixed (size_bits), or variable (length-prefixed).
    enum class Size { none, fixed, variable } size_kind;
    std::uint32_t size_bits;
    // False for table entries we know but cannot convert (onion, garlic, certhash, ...).
    bool supported;
};

// Looks up by name ("ipfs" resolves to p2p); nullptr if unknown.
const ProtocolInfo* protocol_by_name(std::string_view name);
// Looks up by code; nullptr if unknown.
const ProtocolInfo* protocol_by_code(std::uint32_t code);

}  // namespace keel
