#pragma once
// A condition for coroutines on one executor (Asio has no condition variable for them): a
// waiter names what it waits for as a predicate, notify() makes every waiter look again. One
// executor means a notify() cannot fall between a waiter's look and its wait, so no wake-up is
// lost, and any number of coroutines may wait at once.
//
// It replaces the idiom "a steady_timer re-armed with expires_at(max) by the waiter and
// cancelled by the notifier": re-arming a timer cancels the other waits on it, so two waiters
// woke each other in turn for as long as they waited (a busy loop), and every copy had to
// remember to look for the caller's own cancellation after the wait.
//
// The predicate is taken by reference and must be named before the co_await (`auto ready =
// [&] {...}; co_await c.until(ready);`): a temporary inside a co_await expression is one of GCC
// 12's coroutine bugs. Another shaped this file: `if (co_await x) co_return f();` in a template
// coroutine reads its reference parameters from the wrong place, so the look at the caller's
// cancellation is a statement of its own.
#include <boost/asio/steady_timer.hpp>

#include "keel/net/asio.hpp"

namespace keel::net {

class Condition {
  public:
    explicit Condition(asio::any_io_executor executor)
        : timer_(std::move(executor), Clock::time_point::max()) {}
    // Waiters with a deadline are linked to it (below): it stays where it was made.
    Condition(const Condition&) = delete;
    Condition& operator=(const Condition&) = delete;
    ~Condition() {
        for (TimedWait* w = timed_; w; w = w->next) w->owner = nullptr;
    }

    // Every coroutine waiting now looks at its predicate again. With nobody waiting, nothing to
    // do: most notifications find no waiter, and cancelling a timer takes the reactor's lock.
    void notify() {
        if (waiting_ > 0) timer_.cancel();
        for (TimedWait* w = timed_; w; w = w->next) w->timer.cancel();
    }

    // Returns true once ready() holds (at once if it does), false at the deadline or if the
    // calling coroutine is cancelled first (its owner stopped it).
    template <class Ready>
    awaitable<bool> until(const Ready& ready,
                          Clock::time_point deadline = Clock::time_point::max()) {
        bool ok = ready();
        while (!ok && Clock::now() < deadline) {
            co_await wait(deadline);
            const auto state = co_await asio::this_coro::cancellation_state;
            const bool stop = cancelled(state);
            ok = ready();
            if (stop) break;
        }
        co_return ok;
    }

    // One wake-up: returns after the next notify(), at the deadline or when the calling coroutine
    // is cancelled, whichever is first; the caller loops and looks. For a loop whose body must
    // run between looks (e.g. to ask again to be notified).
    awaitable<void> wait(Clock::time_point deadline = Clock::time_point::max()) {
        if (deadline == Clock::time_point::max()) {
            ++waiting_;
            co_await timer_.async_wait(use_result);
            --waiting_;
        } else {
            TimedWait timed(*this, deadline);
            co_await timed.timer.async_wait(use_result);
        }
    }

  private:
    // A waiter with a deadline waits on a timer of its own that expires then, and notify()
    // cancels it. Why not "the shared timer || a deadline timer": that is an Asio parallel group,
    // two spawned coroutines and their cancellation slots for every wait, and every Yamux read
    // with a deadline is one (docs/performance.md). Linked while it waits, unlinked when its
    // frame ends, even mid-wait (a frame destroyed at shutdown); a Condition that goes first
    // detaches its waiters.
    struct TimedWait {
        TimedWait(Condition& condition, Clock::time_point deadline)
            : owner(&condition),
              timer(condition.timer_.get_executor(), deadline),
              next(condition.timed_) {
            if (next) next->prev = this;
            condition.timed_ = this;
        }
        TimedWait(const TimedWait&) = delete;
        TimedWait& operator=(const TimedWait&) = delete;
        ~TimedWait() {
            if (!owner) return;
            if (prev)
                prev->next = next;
            else
                owner->timed_ = next;
            if (next) next->prev = prev;
        }
        Condition* owner;
        asio::steady_timer timer;
        TimedWait* prev = nullptr;
        TimedWait* next;
    };

    asio::steady_timer timer_;  // never expires: only cancel() completes its waits
    // Coroutines in a wait on timer_. Counted down when the wait returns, not by a destructor: a
    // frame destroyed mid-wait (at shutdown) may outlive this object, and a count left high only
    // costs a needless cancel.
    std::size_t waiting_ = 0;
    TimedWait* timed_ = nullptr;  // the waiters with a deadline, newest first
};

}  // namespace keel::net
