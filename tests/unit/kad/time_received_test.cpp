#include <gtest/gtest.h>

#include "keel/kad/time_received.hpp"

namespace keel::kad {
namespace {

// What go and js read back with their RFC 3339 parsers; a record restored from disk is written
// the same way (dht_persistence), not as a bare number of milliseconds.
TEST(TimeReceived, IsRfc3339InUtcWithNanoseconds) {
    using namespace std::chrono;
    auto t = system_clock::time_point(milliseconds(1'764'720'000'500));
    EXPECT_EQ(rfc3339(t), "2025-12-03T00:00:00.500000000Z");
    EXPECT_EQ(rfc3339(system_clock::time_point{}), "1970-01-01T00:00:00.000000000Z");
}

TEST(TimeReceived, ReadsWhatGoJsAndKeelWrite) {
    using namespace std::chrono;
    auto t = system_clock::time_point(milliseconds(1'764'720'000'500));
    EXPECT_EQ(parse_rfc3339(rfc3339(t)), t);                         // Keel
    EXPECT_EQ(parse_rfc3339("2025-12-03T00:00:00.5Z"), t);           // go RFC3339Nano
    EXPECT_EQ(parse_rfc3339("2025-12-03T00:00:00.500Z"), t);         // js toISOString
    EXPECT_EQ(parse_rfc3339("2025-12-03T01:30:00.5+01:30"), t);      // another offset
    EXPECT_EQ(parse_rfc3339("2025-12-02t23:00:00.500-01:00"), t);    // lower-case t
    EXPECT_EQ(parse_rfc3339("2025-12-03T00:00:00.5000000001Z"), t);  // past nanoseconds: cut
    auto exact = system_clock::time_point(nanoseconds(1'764'720'000'123'456'789));
    EXPECT_EQ(parse_rfc3339(rfc3339(exact)), exact);
}

TEST(TimeReceived, AnythingElseIsNoTime) {
    for (const char* bad :
         {"", "1764720000500", "2025-12-03", "2025-12-03T00:00:00", "2025-12-03 00:00:00Z",
          "2025-13-03T00:00:00Z", "2025-02-30T00:00:00Z", "2025-12-03T24:00:00Z",
          "2025-12-03T00:00:00.Z", "2025-12-03T00:00:00Zjunk", "2025-12-03T00:00:00+0100",
          "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "-025-12-03T00:00:00Z"})
        EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
}

}  // namespace
}  // namespace keel::kad
