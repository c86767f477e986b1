// Peer IDs from text (base58btc multihash or a CIDv1 libp2p-key in any multibase: command lines,
// /p2p/ in multiaddrs, the API) and from bytes (Kademlia, p2pd). The first byte picks the form.
// Properties: parse(to_base58(p)) == p, parse(to_cid_base32(p)) == p, from_bytes(bytes(p)) == p;
// an identity peer ID's embedded key hashes back to it.
#include "fuzz_util.hpp"
#include "keel/crypto/peer_id.hpp"

using namespace keel;

namespace {

void check(const PeerId& id) {
    auto b58 = PeerId::parse(id.to_base58());
    KEEL_FUZZ_CHECK(b58.has_value() && *b58 == id);
    auto cid = PeerId::parse(id.to_cid_base32());
    KEEL_FUZZ_CHECK(cid.has_value() && *cid == id);
    auto bytes = PeerId::from_bytes(id.bytes());
    KEEL_FUZZ_CHECK(bytes.has_value() && *bytes == id);
    (void)id.short_string();
    if (auto key = id.extract_public_key()) KEEL_FUZZ_CHECK(id.matches(*key));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    bool text_form = in.flag();
    auto rest = in.rest();
    if (text_form) {
        if (auto id = PeerId::parse(as_chars(rest))) check(*id);
    } else {
        if (auto id = PeerId::from_bytes(rest)) check(*id);
    }
    return 0;
}
