// Multibase text (peer IDs, CIDs): multibase_decode and each base's own decoder. Properties: text
// longer than max_multibase_text is refused; decoded bytes re-encode to text that decodes to the
// same bytes (decode(encode(x)) == x), for base58btc, base32 and base36.
#include "fuzz_util.hpp"
#include "keel/base/multibase.hpp"

using namespace keel;

namespace {

void check_base(Multibase base, BytesView bytes) {
    auto text = multibase_encode(base, bytes);
    auto again = multibase_decode(text);
    if (text.size() > max_multibase_text) return;  // legitimately refused as too long
    KEEL_FUZZ_CHECK(again.has_value());
    KEEL_FUZZ_CHECK(std::equal(again->begin(), again->end(), bytes.begin(), bytes.end()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto bytes = multibase_decode(text)) {
        KEEL_FUZZ_CHECK(size <= max_multibase_text);
        for (auto base : {Multibase::base58btc, Multibase::base32, Multibase::base36})
            check_base(base, *bytes);
    }
    if (auto b58 = base58btc_decode(text)) {
        KEEL_FUZZ_CHECK(size <= max_multibase_text);
        auto again = base58btc_decode(base58btc_encode(*b58));
        KEEL_FUZZ_CHECK(again.has_value() && *again == *b58);
        // base58 is canonical: the decoder accepts exactly the encoder's output.
        KEEL_FUZZ_CHECK(base58btc_encode(*b58) == text);
    }
    if (auto b32 = base32_decode(text)) {
        auto again = base32_decode(base32_encode(*b32));
        KEEL_FUZZ_CHECK(again.has_value() && *again == *b32);
    }
    if (auto b36 = base36_decode(text)) {
        auto again = base36_decode(base36_encode(*b36));
        KEEL_FUZZ_CHECK(again.has_value() && *again == *b36);
    }
    return 0;
}
