// Multiaddr::parse on untrusted text (config files, command lines, dnsaddr TXT records, the API).
// Properties: an accepted address round-trips through both forms: from_bytes(to_bytes(a)) == a
// and parse(to_string(a)) == a, byte_size() is to_bytes()'s length, and to_string is a fixed point
// (canonical text).
#include "fuzz_util.hpp"
#include "keel/multiaddr/multiaddr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string why;
    auto addr = keel::Multiaddr::parse(text, &why);
    if (!addr) return 0;
    KEEL_FUZZ_CHECK(addr->components().size() <= keel::Multiaddr::max_components);
    auto bytes = addr->to_bytes();
    KEEL_FUZZ_CHECK(bytes.size() <= keel::Multiaddr::max_bytes);
    KEEL_FUZZ_CHECK(addr->byte_size() == bytes.size());
    auto from_bytes = keel::Multiaddr::from_bytes(bytes, &why);
    KEEL_FUZZ_CHECK(from_bytes.has_value() && *from_bytes == *addr);
    auto canonical = addr->to_string();
    auto again = keel::Multiaddr::parse(canonical, &why);
    KEEL_FUZZ_CHECK(again.has_value() && *again == *addr);
    KEEL_FUZZ_CHECK(again->to_string() == canonical);
    return 0;
}
