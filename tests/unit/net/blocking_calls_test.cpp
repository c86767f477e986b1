#include "keel/net/blocking_calls.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <latch>

#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using test::run;
using namespace std::chrono_literals;

// Holds the calls that wait on it until open() (the worker threads outlive each test's io_context,
// so the tests share it by pointer with the calls).
class Gate {
  public:
    void wait() {
        std::unique_lock lock(mutex_);
        opened_.wait(lock, [this] { return open_; });
    }
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        opened_.notify_all();
    }

  private:
    std::mutex mutex_;
    std::condition_variable opened_;
    bool open_ = false;
};

TEST(BlockingCalls, AnswersEachCallInItsPlace) {
    run([]() -> awaitable<void> {
        std::vector<std::function<int()>> calls;
        for (int i = 0; i < 3; ++i) calls.emplace_back([i] { return i * 10; });
        const auto start = Clock::now();
        auto answers = co_await run_blocking(std::move(calls), start + 10s);
        // Back as soon as all have answered, not at the deadline.
        EXPECT_LT(Clock::now() - start, 5s);
        KEEL_CO_ASSERT(answers.size() == 3u);
        for (int i = 0; i < 3; ++i) {
            KEEL_CO_ASSERT(answers[static_cast<std::size_t>(i)].has_value());
            EXPECT_EQ(*answers[static_cast<std::size_t>(i)], i * 10);
        }
    });
}

// A call that never answers in time costs its caller the deadline and nothing more: it finishes
// later on its worker, its answer dropped.
TEST(BlockingCalls, TheCallerReturnsAtItsDeadlineWhileTheCallStillRuns) {
    auto gate = std::make_shared<Gate>();
    auto finished = std::make_shared<std::atomic<int>>(0);
    run([gate, finished]() -> awaitable<void> {
        std::vector<std::function<int()>> calls;
        calls.emplace_back([gate, finished] {
            gate->wait();
            ++*finished;
            return 1;
        });
        const auto start = Clock::now();
        auto answers = co_await run_blocking(std::move(calls), start + 100ms);
        const auto took = Clock::now() - start;
        KEEL_CO_ASSERT(answers.size() == 1u);
        EXPECT_FALSE(answers[0].has_value());
        EXPECT_GE(took, 100ms);
        EXPECT_LT(took, 2s);
        EXPECT_EQ(finished->load(), 0);
        gate->open();
        std::function<bool()> done = [finished] { return finished->load() == 1; };
        EXPECT_TRUE(co_await test::wait_until(done, 5s));
    });
    gate->open();
}

// With every worker stuck, a new call waits for its deadline like any other; once the workers are
// free again it is skipped, since nobody waits for its answer any more.
TEST(BlockingCalls, ACallWhoseCallerGaveUpBeforeItStartedIsSkipped) {
    auto gate = std::make_shared<Gate>();
    auto late_runs = std::make_shared<std::atomic<int>>(0);
    run([gate, late_runs]() -> awaitable<void> {
        std::vector<std::function<int()>> stuck(blocking_workers, [gate] {
            gate->wait();
            return 0;
        });
        auto stuck_answers = co_await run_blocking(std::move(stuck), Clock::now() + 50ms);
        EXPECT_FALSE(stuck_answers.front().has_value());

        std::vector<std::function<int()>> late;
        late.emplace_back([late_runs] { return ++*late_runs; });
        auto late_answers = co_await run_blocking(std::move(late), Clock::now() + 50ms);
        EXPECT_FALSE(late_answers.front().has_value());

        gate->open();
        // Once every worker runs one of these at the same time, each has finished what it took
        // from the queue before them, the late call included.
        auto together = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(blocking_workers));
        std::vector<std::function<int()>> all(blocking_workers, [together] {
            together->arrive_and_wait();
            return 1;
        });
        auto all_answers = co_await run_blocking(std::move(all), Clock::now() + 10s);
        for (const auto& a : all_answers) EXPECT_TRUE(a.has_value());
        EXPECT_EQ(late_runs->load(), 0);
    });
    gate->open();
}

}  // namespace
}  // namespace keel::net
