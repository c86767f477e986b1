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

}  // namespace
}  // namespace keel::kad
