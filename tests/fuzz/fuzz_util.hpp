#pragma once
// Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.cpp, docs/testing.md "Fuzzing"): a reader
// that splits the fuzzer's bytes into fields (make_corpus.cpp writes seeds in the same layout),
// property checks that abort, and a bounded driver for the coroutine-based decoders.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <initializer_list>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "keel/base/bytes.hpp"
#include "keel/net/asio.hpp"

namespace keel::fuzz {

[[noreturn]] inline void property_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "fuzz property violated: %s (%s:%d)\n", what, file, line);
    std::abort();
}

// A target's stated property: aborts (a crash for libFuzzer, with the input saved) when false.
#define KEEL_FUZZ_CHECK(cond) \
    ((cond) ? static_cast<void>(0) : ::keel::fuzz::property_failed(#cond, __FILE__, __LINE__))

// The fuzzer's bytes, read front to back. Past the end every read gives zeros / empty spans, so
// a target never has to check the length itself.
class Input {
  public:
    Input(const std::uint8_t* data, std::size_t size) : rest_(data, size) {}

    bool empty() const { return rest_.empty(); }
    std::size_t size() const { return rest_.size(); }

    std::uint8_t byte() {
        if (rest_.empty()) return 0;
        auto b = rest_[0];
        rest_ = rest_.subspan(1);
        return b;
    }
    bool flag() { return (byte() & 1) != 0; }
    std::uint16_t u16() {  // big-endian
        auto hi = byte();
        return static_cast<std::uint16_t>(hi << 8 | byte());
    }
    std::uint32_t u32() {
        auto hi = u16();
        return static_cast<std::uint32_t>(hi) << 16 | u16();
    }
    BytesView take(std::size_t n) {
        n = std::min(n, rest_.size());
        auto out = rest_.first(n);
        rest_ = rest_.subspan(n);
        return out;
    }
    // A field: a 2-byte big-endian length, then that many bytes (fewer at the end of the input).
    BytesView chunk() { return take(u16()); }
    std::string_view chunk_text() { return as_chars(chunk()); }
    BytesView rest() { return take(rest_.size()); }

  private:
    BytesView rest_;
};

// The writer's side of Input::chunk, for seeds.
inline void put_chunk(Bytes& out, BytesView field) {
    out.push_back(static_cast<std::uint8_t>(field.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(field.size() & 0xff));
    out.insert(out.end(), field.begin(), field.end());
}

// Seed building (make_corpus, capture_seeds): parts end to end, one byte, one Input::chunk field.
inline Bytes cat(std::initializer_list<BytesView> parts) {
    Bytes out;
    for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
inline Bytes one(std::uint8_t b) {
    return Bytes{b};
}
inline Bytes chunk(BytesView b) {
    Bytes out;
    put_chunk(out, b);
    return out;
}

// Spawns `body` on `io` and runs ready handlers until nothing is ready any more or `max_rounds`
// rounds have run. Decoders over memory streams never wait on time, so the run is deterministic
// and bounded: a coroutine still waiting afterwards (for bytes that will never come) is destroyed
// with the io_context. An exception escaping `body` is rethrown, so libFuzzer reports it.
// Returns true when `body` finished.
inline bool drive(net::asio::io_context& io, std::function<net::awaitable<void>()> body,
                  std::size_t max_rounds = 100'000) {
    bool finished = false;
    std::exception_ptr thrown;
    net::asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
        finished = true;
        thrown = e;
    });
    for (std::size_t round = 0; round < max_rounds; ++round) {
        if (io.poll() == 0) break;
        if (thrown) std::rethrow_exception(thrown);
    }
    if (thrown) std::rethrow_exception(thrown);
    return finished;
}

// Runs ready handlers until none is left (bounded): what the code under test does with the bytes
// it has been given so far, without waiting on any timer.
inline void settle(net::asio::io_context& io, std::size_t max_rounds = 100'000) {
    for (std::size_t round = 0; round < max_rounds; ++round) {
        if (io.stopped()) io.restart();
        if (io.poll() == 0) break;
    }
}

// Starts a coroutine whose exceptions propagate out of io.poll() (to libFuzzer).
inline void spawn(net::asio::io_context& io, std::function<net::awaitable<void>()> body) {
    net::asio::co_spawn(io, std::move(body), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
}

}  // namespace keel::fuzz
