#pragma once
// This process's resident memory, for /metrics and the history.
#include <cstdint>

namespace keel::app {

// Resident set size in bytes (/proc/self/statm); 0 when it cannot be read.
std::uint64_t resident_memory_bytes();

}  // namespace keel::app
