#pragma once
// Record.timeReceived: RFC 3339 in UTC with nanoseconds ("2006-01-02T15:04:05.999999999Z"), as
// the spec says and go-libp2p and js-libp2p write it (js reads it with `new Date(...)`: a bare
// number of milliseconds would be an Invalid Date there).
#include <chrono>
#include <string>

namespace keel::kad {

std::string rfc3339(std::chrono::system_clock::time_point when);

}  // namespace keel::kad
