#pragma once
// Helpers shared by the unit tests that drive streams (net, protocols, health, p2pd): run a test
// coroutine on its own io_context under a wall-clock limit, poll with deadlines, and a ByteStream
// wrapper that records what passes.
#include <array>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "keel/net/asio.hpp"
#include "keel/net/byte_stream.hpp"

// gtest's ASSERT_* macros `return`, which a coroutine cannot; these `co_return` instead.
#define KEEL_CO_ASSERT(cond)                                \
    do {                                                    \
        if (!(cond)) {                                      \
            ADD_FAILURE() << "assertion failed: " << #cond; \
            co_return;                                      \
        }                                                   \
    } while (0)

// For a boost::system::result: fails with the error's message.
#define KEEL_CO_ASSERT_OK(res)                                               \
    do {                                                                     \
        if (!(res)) {                                                        \
            ADD_FAILURE() << #res << " failed: " << (res).error().message(); \
            co_return;                                                       \
        }                                                                    \
    } while (0)

// For an error_code: fails unless it is empty.
#define KEEL_CO_ASSERT_NO_ERROR(ec)                                    \
    do {                                                               \
        ::keel::net::error_code keel_ec_ = (ec);                       \
        if (keel_ec_) {                                                \
            ADD_FAILURE() << #ec << " failed: " << keel_ec_.message(); \
            co_return;                                                 \
        }                                                              \
    } while (0)

namespace keel::net::test {

using namespace std::chrono_literals;

// Runs `body` on a fresh io_context and fails the test if it has not finished within `limit`.
// The context is stopped as soon as the body returns, so detached tasks it leaves behind (session
// loops, linger timers) cannot keep the test waiting.
inline void run(std::function<awaitable<void>()> body,
                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    asio::io_context io;
    bool finished = false;
    std::exception_ptr thrown;
    asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
        finished = true;
        thrown = e;
        io.stop();
    });
    io.run_for(limit);
    ASSERT_TRUE(finished) << "test coroutine still running after " << limit.count() << " ms";
    if (thrown) {
        try {
            std::rethrow_exception(thrown);
        } catch (const std::exception& e) {
            FAIL() << "test coroutine threw: " << e.what();
        } catch (...) {
            FAIL() << "test coroutine threw a non-std exception";
        }
    }
}

inline awaitable<void> pause(Duration d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(use_result);
}

// Polls `done` every few milliseconds; false if it is still not true after `limit`. Takes a named
// std::function by reference: GCC 12 mishandles a lambda temporary inside a co_await expression
// (the captured shared_ptrs were released twice under ASan), so callers name the predicate first.
inline awaitable<bool> wait_until(const std::function<bool()>& done,
                                  Duration limit = Duration{2000}) {
    auto deadline = Clock::now() + limit;
    while (!done()) {
        if (Clock::now() >= deadline) co_return false;
        co_await pause(Duration{2});
    }
    co_return true;
}

// Reads until end of stream; the error instead if the stream fails or is reset first.
inline awaitable<result<Bytes>> read_to_end(ByteStream& stream) {
    Bytes out;
    std::array<std::uint8_t, 4096> buffer{};
    while (true) {
        auto n = co_await stream.read_some(buffer);
        if (!n) {
            if (n.error() == asio::error::eof) co_return out;
            co_return n.error();
        }
        out.insert(out.end(), buffer.begin(), buffer.begin() + *n);
    }
}

inline Bytes pattern(std::size_t n, std::uint8_t seed = 0) {
    Bytes out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<std::uint8_t>((i * 31 + seed + (i >> 8)) & 0xff);
    return out;
}

// Wraps a stream and records the size of every read request and every byte written.
class ProbeStream final : public ByteStream {
  public:
    explicit ProbeStream(std::unique_ptr<ByteStream> inner)
        : inner_(std::move(inner)), log_(std::make_shared<Log>()) {}

    struct Log {
        std::vector<std::size_t> read_requests;
        std::size_t bytes_read = 0;
        Bytes written;
        std::size_t writes = 0;  // write_all calls
        // What ready_to_read() answers, as if that much had been received and buffered; unset:
        // what the inner stream answers.
        std::optional<std::size_t> ready_to_read;
    };
    std::shared_ptr<Log> log() const { return log_; }

    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override {
        auto log = log_;
        log->read_requests.push_back(buffer.size());
        auto n = co_await inner_->read_some(buffer);
        if (n) log->bytes_read += *n;
        co_return n;
    }
    awaitable<error_code> write_all(BytesView data) override {
        log_->written.insert(log_->written.end(), data.begin(), data.end());
        ++log_->writes;
        co_return co_await inner_->write_all(data);
    }
    std::size_t ready_to_read() const override {
        return log_->ready_to_read.value_or(inner_->ready_to_read());
    }
    awaitable<error_code> close_write() override { return inner_->close_write(); }
    void reset() override { inner_->reset(); }
    asio::any_io_executor get_executor() override { return inner_->get_executor(); }

  private:
    std::unique_ptr<ByteStream> inner_;
    std::shared_ptr<Log> log_;
};

}  // namespace keel::net::test
