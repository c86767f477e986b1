#pragma once
// A one-shot signal between coroutines on one executor: wait() returns once fire() has been
// called, at once if it already was, or when the waiting coroutine is cancelled. Replaces "a
// steady_timer that never expires, cancelled to wake someone", which loses a wake-up that comes
// before the wait starts.
#include <boost/asio/steady_timer.hpp>

#include "keel/net/asio.hpp"

namespace keel::net {

class Signal {
  public:
    explicit Signal(asio::any_io_executor executor)
        : timer_(std::move(executor), Clock::time_point::max()) {}

    void fire() {
        fired_ = true;
        timer_.cancel();
    }
    bool fired() const { return fired_; }

    awaitable<void> wait() {
        while (!fired_) {
            co_await timer_.async_wait(use_result);
            const auto state = co_await asio::this_coro::cancellation_state;
            if (cancelled(state)) break;
        }
    }

  private:
    asio::steady_timer timer_;
    bool fired_ = false;
};

}  // namespace keel::net
