// Multihash::decode (peer IDs, Kademlia keys, CIDs). Properties: digests are at most
// max_digest_size; decode consumes the whole input, so encode() of the result is the input
// exactly (decode(encode(x)) == x).
#include "fuzz_util.hpp"
#include "keel/base/multihash.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto mh = keel::Multihash::decode(keel::BytesView(data, size));
    if (!mh) return 0;
    KEEL_FUZZ_CHECK(mh->digest.size() <= keel::Multihash::max_digest_size);
    auto bytes = mh->encode();
    KEEL_FUZZ_CHECK(bytes.size() == size && std::equal(bytes.begin(), bytes.end(), data));
    auto again = keel::Multihash::decode(bytes);
    KEEL_FUZZ_CHECK(again.has_value() && *again == *mh);
    return 0;
}
