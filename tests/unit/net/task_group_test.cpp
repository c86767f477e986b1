#include "keel/net/task_group.hpp"

#include <gtest/gtest.h>

#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using test::run;

// Sleeps for `d` unless cancelled; counts how it ended.
awaitable<void> nap(Duration d, int* finished, int* cancelled) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    auto [ec] = co_await t.async_wait(use_result);
    ++*(ec ? cancelled : finished);
}

TEST(TaskGroup, WaitReturnsOnceEveryTaskEnded) {
    run([]() -> awaitable<void> {
        int finished = 0, cancelled = 0;
        TaskGroup group(co_await asio::this_coro::executor);
        // Before the spawns: a task's timer starts when it is spawned, so a start taken after
        // them may be a few microseconds late and the 30 ms look shorter.
        auto start = Clock::now();
        for (int ms : {10, 30, 20}) group.spawn(nap(Duration{ms}, &finished, &cancelled));
        EXPECT_EQ(group.running(), 3u);
        EXPECT_TRUE(co_await group.wait());
        EXPECT_GE(Clock::now() - start, Duration{30});
        EXPECT_EQ(finished, 3);
        EXPECT_EQ(group.running(), 0u);
    });
}

TEST(TaskGroup, CancelEndsEveryTaskAndWaitHasADeadline) {
    run([]() -> awaitable<void> {
        int finished = 0, cancelled = 0;
        TaskGroup group(co_await asio::this_coro::executor);
        for (int i = 0; i < 4; ++i) group.spawn(nap(Duration{60'000}, &finished, &cancelled));
        EXPECT_FALSE(co_await group.wait(Clock::now() + Duration{20}));
        group.cancel();
        EXPECT_TRUE(co_await group.wait(Clock::now() + Duration{2000}));
        EXPECT_EQ(cancelled, 4);
        EXPECT_EQ(finished, 0);
    });
}

TEST(TaskGroup, UntilLooksAsEachTaskEnds) {
    run([]() -> awaitable<void> {
        int finished = 0, cancelled = 0;
        TaskGroup group(co_await asio::this_coro::executor);
        group.spawn(nap(Duration{10}, &finished, &cancelled));
        group.spawn(nap(Duration{60'000}, &finished, &cancelled));
        auto first = [&] { return finished >= 1; };
        EXPECT_TRUE(co_await group.until(first, Clock::now() + Duration{5000}));
        EXPECT_EQ(group.running(), 1u);
        group.cancel();  // the sleeper counts into this frame: let it end while the frame lives
        EXPECT_TRUE(co_await group.wait());
        EXPECT_EQ(cancelled, 1);
    });
}

TEST(TaskGroup, DestroyingTheGroupCancelsWhatRuns) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        int finished = 0, cancelled = 0;
        {
            TaskGroup group(ex);
            for (int i = 0; i < 3; ++i) group.spawn(nap(Duration{60'000}, &finished, &cancelled));
        }
        asio::steady_timer settle(ex, Duration{20});
        co_await settle.async_wait(use_result);
        EXPECT_EQ(cancelled, 3);
    });
}

}  // namespace
}  // namespace keel::net
