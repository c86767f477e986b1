// /dnsaddr TXT records (parse_dnsaddr_txt): strings from any DNS server on the path. Input:
// byte = filter mode, then chunks = TXT strings. Properties: every address kept came from a
// "dnsaddr=" string, is a valid multiaddr and, when a peer is dialed, ends in that peer's /p2p/ID
// or is a nested /dnsaddr without one; kept + malformed + other_peer never exceeds the records.
#include "fuzz_util.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/host/dnsaddr.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const PeerId peer = PeerId::from_public_key(
        Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{42}).public_key());
    fuzz::Input in(data, size);
    const bool filter = in.flag();
    std::vector<std::string> txt;
    while (!in.empty() && txt.size() < 64) txt.emplace_back(in.chunk_text());
    std::optional<PeerId> dialed;
    if (filter) dialed = peer;
    auto records = parse_dnsaddr_txt(txt, dialed);
    KEEL_FUZZ_CHECK(records.addrs.size() + records.malformed + records.other_peer <= txt.size());
    for (const auto& addr : records.addrs) {
        KEEL_FUZZ_CHECK(Multiaddr::parse(addr.to_string()).has_value());
        if (dialed) {
            auto last = last_peer_id(addr);
            KEEL_FUZZ_CHECK((last && *last == *dialed) || (!last && is_dnsaddr(addr)));
        }
        (void)dnsaddr_query_name(addr);
    }
    return 0;
}
