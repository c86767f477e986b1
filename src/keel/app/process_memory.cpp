#include "keel/app/process_memory.hpp"

#include <unistd.h>

#include <fstream>

namespace keel::app {

std::uint64_t resident_memory_bytes() {
    std::ifstream statm("/proc/self/statm");  // size, then resident, in pages
    std::uint64_t size = 0, resident = 0;
    if (!(statm >> size >> resident)) return 0;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace keel::app
