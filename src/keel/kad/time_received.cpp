#include "keel/kad/time_received.hpp"

#include <cstdio>
#include <ctime>

namespace keel::kad {

std::string rfc3339(std::chrono::system_clock::time_point when) {
    auto secs = std::chrono::floor<std::chrono::seconds>(when);
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(when - secs).count();
    std::time_t t = std::chrono::system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[80];  // 30 used; room for what -Wformat-truncation assumes of int fields
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(nanos));
    return buf;
}

}  // namespace keel::kad
