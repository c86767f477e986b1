// Property: decode_uvarint accepts only minimal encodings of at most 9 bytes / 63 bits, and for
// every accepted input re-encoding the value gives back exactly the bytes consumed
// (decode(encode(x)) == x), with uvarint_size agreeing.
#include "fuzz_util.hpp"
#include "keel/base/varint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    keel::BytesView in(data, size);
    auto decoded = keel::decode_uvarint(in);
    if (!decoded) return 0;
    KEEL_FUZZ_CHECK(decoded->length >= 1 && decoded->length <= keel::max_uvarint_size);
    KEEL_FUZZ_CHECK(decoded->length <= size);
    KEEL_FUZZ_CHECK(decoded->value < (std::uint64_t{1} << 63));
    keel::Bytes again;
    keel::append_uvarint(again, decoded->value);
    KEEL_FUZZ_CHECK(again.size() == decoded->length);
    KEEL_FUZZ_CHECK(std::equal(again.begin(), again.end(), data));
    KEEL_FUZZ_CHECK(keel::uvarint_size(decoded->value) == decoded->length);
    return 0;
}
