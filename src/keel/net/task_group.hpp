#pragma once
// A group of coroutines run side by side on one executor (Boost.Beast's task_group, reduced to
// what Keel needs): spawn() starts one, wait() returns once every one has ended, cancel() asks
// each to stop (terminal cancellation: its pending operation ends with operation_aborted and
// with_deadline / Condition / Signal waits return). Destroying the group cancels what still
// runs without waiting for it: the tasks share the group's state, so they touch nothing freed,
// and the caller that fanned work out does not leave requests running after it has its answer.
//
// This is the one way to "spawn N, collect, stop the rest" (a DHT fan-out, a verification step
// asking several peers): the hand-written copies each had their own stop flag and guard.
#include <cstddef>
#include <list>
#include <memory>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include "keel/net/asio.hpp"
#include "keel/net/condition.hpp"

namespace keel::net {

class TaskGroup {
  public:
    explicit TaskGroup(asio::any_io_executor executor)
        : state_(std::make_shared<State>(std::move(executor))) {}
    ~TaskGroup() { cancel(); }
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;

    // Starts `task` (it may run until its first suspension before spawn returns). An exception
    // a task lets out ends that task only, as with asio::detached.
    void spawn(awaitable<void> task) {
        auto& state = *state_;
        state.signals.emplace_back();
        auto slot = std::prev(state.signals.end());
        ++state.running;
        asio::co_spawn(state.executor, std::move(task),
                       asio::bind_cancellation_slot(
                           slot->slot(), [keep = state_, slot](const std::exception_ptr&) {
                               keep->signals.erase(slot);
                               --keep->running;
                               keep->ended.notify();
                           }));
    }

    // Asks every running task to stop; each ends at its next (or current) wait.
    void cancel() {
        auto& signals = state_->signals;
        for (auto it = signals.begin(); it != signals.end();) {
            auto next = std::next(it);  // a task that ends at once erases its own entry
            it->emit(asio::cancellation_type::terminal);
            it = next;
        }
    }

    std::size_t running() const { return state_->running; }

    // Returns true once no task runs, false at the deadline (or if the caller is cancelled).
    awaitable<bool> wait(Clock::time_point deadline = Clock::time_point::max()) {
        auto none = [this] { return state_->running == 0; };
        const bool done = co_await until(none, deadline);
        co_return done;
    }

    // Returns true once ready() holds, looked at now and each time a task ends (e.g. "every
    // task ended, or one found the answer"); false at the deadline or if the caller is cancelled.
    template <class Ready>
    awaitable<bool> until(const Ready& ready,
                          Clock::time_point deadline = Clock::time_point::max()) {
        auto state = state_;
        const bool done = co_await state->ended.until(ready, deadline);
        co_return done;
    }

  private:
    struct State {
        explicit State(asio::any_io_executor ex) : executor(ex), ended(ex) {}
        asio::any_io_executor executor;
        Condition ended;
        std::size_t running = 0;
        std::list<asio::cancellation_signal> signals;  // one per running task, stable addresses
    };
    std::shared_ptr<State> state_;
};

}  // namespace keel::net
