#pragma once
// Blocking calls (name lookups: getaddrinfo, res_nquery) awaited with a deadline. They run on a
// small worker pool, never on an I/O thread, and the caller waits for their answers only until
// its deadline: a call still running then is left to finish on its own and its answer dropped.
// A call whose caller has already given up when a worker reaches it is skipped. So no caller
// waits longer than it said, whatever a DNS server does, and a worker stays stuck at most for
// the resolver's own timeouts (/etc/resolv.conf's `timeout` and `attempts`).
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "keel/base/scope_exit.hpp"
#include "keel/net/asio.hpp"

namespace keel::net {

// Workers for blocking calls: 8, so that a few lookups a DNS server never answers do not hold up
// the others. Leaked on purpose, so a call stuck in the resolver cannot hold up process exit (a
// static thread_pool would join it).
inline constexpr std::size_t blocking_workers = 8;
asio::thread_pool& blocking_pool();

namespace detail {

// The meeting point of one batch of calls and the coroutine waiting for them. `timer` is set only
// while that coroutine waits (it lives in the coroutine's frame); workers touch it only by posting
// to `executor`, and only while it is set.
template <class T>
struct BlockingBatch {
    std::mutex mutex;
    std::optional<asio::any_io_executor> executor;
    asio::steady_timer* timer = nullptr;
    std::vector<std::optional<T>> results;
    std::size_t remaining = 0;
};

template <class T>
void run_blocking_call(const std::shared_ptr<BlockingBatch<T>>& batch, std::size_t index,
                       const std::function<T()>& call) {
    {
        std::lock_guard lock(batch->mutex);
        if (!batch->timer) return;  // the caller gave up before we started
    }
    auto answer = call();
    std::lock_guard lock(batch->mutex);
    batch->results[index] = std::move(answer);
    if (--batch->remaining == 0 && batch->timer) {
        asio::post(*batch->executor, [batch] {
            // On the caller's thread, the only one that clears `timer`.
            if (batch->timer) batch->timer->cancel();
        });
    }
}

}  // namespace detail

// Runs every call in parallel on blocking_pool() and answers each one's result, or nullopt for
// a call that had not answered by `deadline` (or when the waiting coroutine is cancelled).
template <class T>
awaitable<std::vector<std::optional<T>>> run_blocking(std::vector<std::function<T()>> calls,
                                                      Clock::time_point deadline) {
    auto executor = co_await asio::this_coro::executor;
    auto batch = std::make_shared<detail::BlockingBatch<T>>();
    batch->results.resize(calls.size());
    batch->remaining = calls.size();
    asio::steady_timer timer(executor, deadline);
    {
        std::lock_guard lock(batch->mutex);
        batch->executor = executor;
        batch->timer = &timer;
    }
    // Unregisters the timer before it is destroyed, however this coroutine ends.
    ScopeExit unregister([batch] {
        std::lock_guard lock(batch->mutex);
        batch->timer = nullptr;
        batch->executor.reset();
    });

    for (std::size_t i = 0; i < calls.size(); ++i) {
        asio::post(blocking_pool(), [batch, i, call = std::move(calls[i])] {
            detail::run_blocking_call<T>(batch, i, call);
        });
    }
    if (!calls.empty()) co_await timer.async_wait(use_result);

    // Moved out one by one: a call still running writes its slot later, so the vector keeps its
    // size.
    std::vector<std::optional<T>> out;
    out.reserve(calls.size());
    std::lock_guard lock(batch->mutex);
    for (auto& r : batch->results) out.push_back(std::move(r));
    co_return out;
}

}  // namespace keel::net
