#pragma once
// Deadlines in tests are where a test gives up on work that hangs, never a claim about speed
// (speed is measured in bench/): generous multiples of what the build needs. A sanitizer build
// (KEEL_TEST_SLOWDOWN, set by tests/CMakeLists.txt) runs the same work several times slower, and
// a loaded two-core machine slower still.
#ifndef KEEL_TEST_SLOWDOWN
#define KEEL_TEST_SLOWDOWN 1
#endif

namespace keel::test {

inline constexpr int build_slowdown = KEEL_TEST_SLOWDOWN;

template <class Duration>
constexpr Duration generous(Duration d) {
    return d * build_slowdown;
}

}  // namespace keel::test
