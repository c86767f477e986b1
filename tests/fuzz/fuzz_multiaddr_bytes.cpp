// Multiaddr::from_bytes on untrusted binary (identify, Kademlia peers, p2pd requests). Properties:
// bounds hold (max_bytes, max_components, max_value_size); an accepted address is canonical, so
// to_bytes() gives back the input exactly (byte_size() its length); and the text form parses back
// to the same address.
#include "fuzz_util.hpp"
#include "keel/multiaddr/multiaddr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    keel::BytesView in(data, size);
    std::string why;
    auto addr = keel::Multiaddr::from_bytes(in, &why);
    if (!addr) return 0;
    KEEL_FUZZ_CHECK(size <= keel::Multiaddr::max_bytes);
    KEEL_FUZZ_CHECK(addr->components().size() <= keel::Multiaddr::max_components);
    for (const auto& c : addr->components()) {
        KEEL_FUZZ_CHECK(c.value.size() <= keel::Multiaddr::max_value_size);
        (void)addr->component_value_text(c);
    }
    auto bytes = addr->to_bytes();
    KEEL_FUZZ_CHECK(bytes.size() == size && std::equal(bytes.begin(), bytes.end(), data));
    KEEL_FUZZ_CHECK(addr->byte_size() == size);
    if (addr->empty()) return 0;  // no text form: parse("") is an error, as in go and js
    auto text = addr->to_string();
    auto again = keel::Multiaddr::parse(text, &why);
    KEEL_FUZZ_CHECK(again.has_value());
    KEEL_FUZZ_CHECK(*again == *addr);
    return 0;
}
