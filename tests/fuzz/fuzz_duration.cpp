// Durations as people write them ("10s", "250ms", "1.5m": flags and the TOML file). Properties:
// only values in [0, max_duration] are accepted, and format_duration's spelling parses back to
// the same value (parse(format(d)) == d).
#include "fuzz_util.hpp"
#include "keel/app/duration.hpp"

using namespace keel::app;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto d = parse_duration(text);
    if (!d) return 0;
    KEEL_FUZZ_CHECK(d->count() >= 0 && *d <= max_duration);
    auto again = parse_duration(format_duration(*d));
    KEEL_FUZZ_CHECK(again.has_value() && *again == *d);
    return 0;
}
