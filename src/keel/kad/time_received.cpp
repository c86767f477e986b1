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

namespace keel::kad {

namespace {

// `count` decimal digits at `at`, or -1.
int digits(std::string_view text, std::size_t at, std::size_t count) {
    if (at + count > text.size()) return -1;
    int value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
        if (text[i] < '0' || text[i] > '9') return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
    using namespace std::chrono;
    // YYYY-MM-DDTHH:MM:SS
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':')
        return std::nullopt;
    int y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
    int h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
    if (y < 1900 || y > 2200 || mo < 0 || d < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
        s > 60)
        return std::nullopt;
    year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
    if (!date.ok()) return std::nullopt;
    std::size_t at = 19;
    nanoseconds fraction{0};
    if (text[at] == '.') {
        ++at;
        std::size_t first = at;
        long long scale = 100'000'000;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            fraction += nanoseconds((text[at] - '0') * scale);  // digits past the 9th add 0
            scale /= 10;
            ++at;
        }
        if (at == first) return std::nullopt;
    }
    minutes offset{0};
    if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
        ++at;
    } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
        int oh = digits(text, at + 1, 2), om = digits(text, at + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59 || at + 3 >= text.size() || text[at + 3] != ':')
            return std::nullopt;
        offset = hours(oh) + minutes(om);
        if (text[at] == '-') offset = -offset;
        at += 6;
    } else {
        return std::nullopt;
    }
    if (at != text.size()) return std::nullopt;
    // A leap second (:60) is read as the last nanosecond of its minute.
    auto second_of_minute =
        s == 60 ? seconds(59) + nanoseconds(999'999'999) : seconds(s) + fraction;
    auto t = sys_days(date) + hours(h) + minutes(mi) + second_of_minute - offset;
    return time_point_cast<system_clock::duration>(t);
}

}  // namespace keel::kad
