#include "keel/multiaddr/protocols.hpp"

namespace keel {
namespace {

using Size = ProtocolInfo::Size;

// From multiformats/multiaddr protocols.csv. `supported` marks what Multiaddr can convert:
// addresses, ports, DNS names, peer IDs, unix socket paths and every value-less protocol. The
// rest (onion, garlic, certhash, ...) are listed so errors can say "unsupported" rather than
// "unknown".
constexpr ProtocolInfo table[] = {
    {4, "ip4", Size::fixed, 32, true},
    {6, "tcp", Size::fixed, 16, true},
    {273, "udp", Size::fixed, 16, true},
    {33, "dccp", Size::fixed, 16, true},
    {41, "ip6", Size::fixed, 128, true},
    {42, "ip6zone", Size::variable, 0, false},
    {43, "ipcidr", Size::fixed, 8, false},
    {53, "dns", Size::variable, 0, true},
    {54, "dns4", Size::variable, 0, true},
    {55, "dns6", Size::variable, 0, true},
    {56, "dnsaddr", Size::variable, 0, true},
    {132, "sctp", Size::fixed, 16, true},
    {301, "udt", Size::none, 0, true},
    {302, "utp", Size::none, 0, true},
    {400, "unix", Size::variable, 0, true},
    {421, "p2p", Size::variable, 0, true},
    {421, "ipfs", Size::variable, 0, true},  // old name of p2p; by-code lookups find p2p first
    {444, "onion", Size::fixed, 96, false},
    {445, "onion3", Size::fixed, 296, false},
    {446, "garlic64", Size::variable, 0, false},
    {447, "garlic32", Size::variable, 0, false},
    {448, "tls", Size::none, 0, true},
    {449, "sni", Size::variable, 0, false},
    {454, "noise", Size::none, 0, true},
    {460, "quic", Size::none, 0, true},
    {461, "quic-v1", Size::none, 0, true},
    {465, "webtransport", Size::none, 0, true},
    {466, "certhash", Size::variable, 0, false},
    {480, "http", Size::none, 0, true},
    {481, "http-path", Size::variable, 0, false},
    {443, "https", Size::none, 0, true},
    {477, "ws", Size::none, 0, true},
    {478, "wss", Size::none, 0, true},
    {479, "p2p-websocket-star", Size::none, 0, true},
    {277, "p2p-stardust", Size::none, 0, true},
    {275, "p2p-webrtc-star", Size::none, 0, true},
    {276, "p2p-webrtc-direct", Size::none, 0, true},
    {280, "webrtc-direct", Size::none, 0, true},
    {281, "webrtc", Size::none, 0, true},
    {290, "p2p-circuit", Size::none, 0, true},
    {777, "memory", Size::variable, 0, false},
};

template <typename Pred>
const ProtocolInfo* find_if(Pred pred) {
    for (const auto& p : table)
        if (pred(p)) return &p;
    return nullptr;
}

}  // namespace

const ProtocolInfo* protocol_by_name(std::string_view name) {
    return find_if([&](const ProtocolInfo& p) { return p.name == name; });
}

const ProtocolInfo* protocol_by_code(std::uint32_t code) {
    return find_if([&](const ProtocolInfo& p) { return p.code == code; });
}

}  // namespace keel
