#pragma once
// The process's descriptor limit. Every connection is a descriptor: a soft limit of 1024 (a
// shell's default) would stop a bootstrap or a load run long before its own limits, with accept()
// or connect() failing in a loop.
#include <cstdint>

namespace keel::net {

struct FdLimit {
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
};
// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limits now in force.
FdLimit raise_fd_limit();

}  // namespace keel::net
