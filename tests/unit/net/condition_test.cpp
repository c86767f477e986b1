#include "keel/net/condition.hpp"

#include <exception>
#include <functional>
#include <memory>
#include <optional>

#include <gtest/gtest.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include "keel/net/deadline.hpp"
#include "keel/net/signal.hpp"
#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using test::run;

// Sleeps without a Condition: the tests' "meanwhile".
awaitable<void> pause(Duration d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(use_result);
}

TEST(Condition, EveryWaiterWakesOnceItsPredicateHolds) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Condition changed(ex);
        int value = 0;
        int woken = 0;
        int looks = 0;
        for (int want : {1, 2, 2}) {
            asio::co_spawn(
                ex,
                [&, want]() -> awaitable<void> {
                    auto ready = [&] {
                        ++looks;
                        return value >= want;
                    };
                    if (co_await changed.until(ready)) ++woken;
                },
                asio::detached);
        }
        co_await pause(Duration{20});
        // Three waiters at once: they do not wake each other (the timer idiom this replaces
        // made them take turns cancelling each other for as long as they waited).
        EXPECT_EQ(looks, 3);
        value = 1;
        changed.notify();
        co_await pause(Duration{20});
        EXPECT_EQ(woken, 1);
        value = 2;
        changed.notify();
        co_await pause(Duration{20});
        EXPECT_EQ(woken, 3);
        EXPECT_EQ(looks, 3 + 3 + 2);
    });
}

TEST(Condition, ReturnsAtOnceWhenThePredicateAlreadyHolds) {
    run([]() -> awaitable<void> {
        Condition changed(co_await asio::this_coro::executor);
        auto ready = [] { return true; };
        EXPECT_TRUE(co_await changed.until(ready));
        EXPECT_TRUE(co_await changed.until(ready, Clock::now() - Duration{1}));
    });
}

TEST(Condition, DeadlineEndsTheWaitWithFalse) {
    run([]() -> awaitable<void> {
        Condition changed(co_await asio::this_coro::executor);
        auto never = [] { return false; };
        auto start = Clock::now();
        EXPECT_FALSE(co_await changed.until(never, start + Duration{50}));
        EXPECT_GE(Clock::now() - start, Duration{50});
    });
}

TEST(Condition, TheCallersCancellationEndsTheWait) {
    run([]() -> awaitable<void> {
        Condition changed(co_await asio::this_coro::executor);
        auto never = [] { return false; };
        // result<int>, not result<bool>: a bool result is ambiguous with an error code.
        auto waited = [&]() -> awaitable<result<int>> {
            const bool ready = co_await changed.until(never);
            co_return ready ? 1 : 0;
        };
        auto start = Clock::now();
        auto r = co_await with_deadline(waited(), Duration{50});
        KEEL_CO_ASSERT(!r);
        EXPECT_EQ(r.error(), net_errc::timeout);
        EXPECT_LT(Clock::now() - start, Duration{2000});
    });
}

// Cancelled directly, through its own cancellation slot (not a with_deadline, which drops what a
// cancelled operand throws): the waiter is answered, not thrown at. Awaiting a helper coroutine
// to ask "was I cancelled?" threw operation_aborted here instead.
struct CancelledWaiter {
    asio::io_context io;
    asio::cancellation_signal cancel;
    bool finished = false;
    std::exception_ptr thrown;

    void start(std::function<awaitable<void>()> body) {
        asio::co_spawn(io, std::move(body),
                       asio::bind_cancellation_slot(cancel.slot(), [this](std::exception_ptr e) {
                           finished = true;
                           thrown = e;
                       }));
        io.poll();  // runs until the body waits
    }
    void cancel_it() {
        cancel.emit(asio::cancellation_type::terminal);
        io.poll();
    }
};

TEST(Condition, ACancelledWaiterIsAnsweredFalseNotThrownAt) {
    CancelledWaiter waiter;
    Condition changed(waiter.io.get_executor());
    std::optional<bool> answer;
    waiter.start(
        [&]() -> awaitable<void> { answer = co_await changed.until([] { return false; }); });
    ASSERT_FALSE(waiter.finished);
    waiter.cancel_it();
    ASSERT_TRUE(waiter.finished);
    EXPECT_FALSE(waiter.thrown) << "the cancelled waiter was thrown at";
    ASSERT_TRUE(answer.has_value());
    EXPECT_FALSE(*answer);
}

TEST(Condition, WaitReturnsAfterOneNotifyOrTheDeadline) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Condition wake(ex);
        bool done = false;
        asio::co_spawn(
            ex,
            [&]() -> awaitable<void> {
                co_await wake.wait();
                done = true;
            },
            asio::detached);
        co_await pause(Duration{10});
        EXPECT_FALSE(done);
        wake.notify();
        co_await pause(Duration{10});
        EXPECT_TRUE(done);
        auto start = Clock::now();
        co_await wake.wait(start + Duration{30});
        EXPECT_GE(Clock::now() - start, Duration{30});
    });
}

// Waiters with deadlines wait on timers of their own: a notify wakes every one of them, each
// ends at its own deadline, and waiters without one are woken beside them.
TEST(Condition, NotifyWakesWaitersWithAndWithoutDeadlines) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Condition changed(ex);
        bool value = false;
        int woken = 0;
        int timed_out = 0;
        auto start = Clock::now();
        for (auto limit : {Duration{5000}, Duration{5000}, Duration{0}, Duration{40}}) {
            asio::co_spawn(
                ex,
                [&, limit]() -> awaitable<void> {
                    auto ready = [&] { return value; };
                    auto deadline = limit == Duration{0} ? Clock::time_point::max() : start + limit;
                    const bool ok = co_await changed.until(ready, deadline);
                    ++(ok ? woken : timed_out);
                },
                asio::detached);
        }
        // Polled, not slept: the 40 ms waiter ends by itself, the others stay.
        std::function<bool()> one_timed_out = [&] { return timed_out == 1; };
        EXPECT_TRUE(co_await test::wait_until(one_timed_out, Duration{2000}));
        EXPECT_EQ(woken, 0);
        value = true;
        changed.notify();
        std::function<bool()> three_woken = [&] { return woken == 3; };
        EXPECT_TRUE(co_await test::wait_until(three_woken, Duration{2000}));
        EXPECT_EQ(timed_out, 1);  // the other two were woken, not timed out at 5 s
    });
}

// A Condition destroyed while a waiter with a deadline is linked to it detaches the waiter: the
// waiter's frame ends later (at its deadline) without touching the Condition.
TEST(Condition, ATimedWaiterOutlivesItsCondition) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto changed = std::make_unique<Condition>(ex);
        bool started = false;
        bool ended = false;
        asio::co_spawn(
            ex,
            [&, c = changed.get()]() -> awaitable<void> {
                started = true;  // and linked before anything else runs: no suspension between
                co_await c->wait(Clock::now() + Duration{50});
                ended = true;
            },
            asio::detached);
        std::function<bool()> waiting = [&] { return started; };
        KEEL_CO_ASSERT(co_await test::wait_until(waiting, Duration{2000}));
        changed.reset();
        std::function<bool()> finished = [&] { return ended; };
        EXPECT_TRUE(co_await test::wait_until(finished, Duration{2000}));
    });
}

TEST(Signal, AFireBeforeTheWaitIsNotLost) {
    run([]() -> awaitable<void> {
        Signal ended(co_await asio::this_coro::executor);
        ended.fire();
        co_await ended.wait();
        EXPECT_TRUE(ended.fired());
    });
}

TEST(Signal, ACancelledWaiterReturnsNotThrownAt) {
    CancelledWaiter waiter;
    Signal never(waiter.io.get_executor());
    bool returned = false;
    waiter.start([&]() -> awaitable<void> {
        co_await never.wait();
        returned = true;
    });
    ASSERT_FALSE(waiter.finished);
    waiter.cancel_it();
    ASSERT_TRUE(waiter.finished);
    EXPECT_FALSE(waiter.thrown) << "the cancelled waiter was thrown at";
    EXPECT_TRUE(returned);
}

TEST(Signal, TheCallersCancellationEndsTheWait) {
    run([]() -> awaitable<void> {
        Signal never(co_await asio::this_coro::executor);
        auto waited = [&]() -> awaitable<result<int>> {
            co_await never.wait();
            co_return 1;
        };
        auto r = co_await with_deadline(waited(), Duration{50});
        KEEL_CO_ASSERT(!r);
        EXPECT_EQ(r.error(), net_errc::timeout);
    });
}

}  // namespace
}  // namespace keel::net
