// CIDs from bytes (p2pd DHT requests) and from text (the API, `keel dht`). The first byte picks
// the form. Properties: from_bytes(to_bytes(c)) == c and parse(to_string(c)) == c for every
// accepted CID.
#include "fuzz_util.hpp"
#include "keel/base/cid.hpp"

using namespace keel;

namespace {

void check(const Cid& cid) {
    KEEL_FUZZ_CHECK(cid.version == 0 || cid.version == 1);
    auto bytes = cid.to_bytes();
    auto from_bytes = Cid::from_bytes(bytes);
    KEEL_FUZZ_CHECK(from_bytes.has_value() && *from_bytes == cid);
    auto text = cid.to_string();
    auto parsed = Cid::parse(text);
    KEEL_FUZZ_CHECK(parsed.has_value() && *parsed == cid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    bool text_form = in.flag();
    auto rest = in.rest();
    if (text_form) {
        if (auto cid = Cid::parse(as_chars(rest))) check(*cid);
    } else {
        if (auto cid = Cid::from_bytes(rest)) check(*cid);
    }
    return 0;
}
