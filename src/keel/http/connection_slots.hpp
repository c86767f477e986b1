#pragma once
// How many connections a local client may hold, and who gives way when all are taken: at most
// `max` connections; when a new one arrives with every place taken, the connection that has
// waited longest for its next request is closed to make room, so that slow or idle clients cannot
// lock others out. A connection busy with a request or an event stream is never closed for it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>

#include "keel/net/deadline.hpp"

namespace keel::http {

class ConnectionSlots {
  public:
    struct Slot {
        enum class State { waiting, busy, events };
        State state = State::waiting;
        net::Clock::time_point since = net::Clock::now();
        std::function<void()> close;  // closes the connection (set by its session)

        void waiting() {
            state = State::waiting;
            since = net::Clock::now();
        }
    };

    explicit ConnectionSlots(std::size_t max) : max_(max) {}

    // A place for a new connection, or none when every connection is busy. Give it back with
    // release() when the connection ends.
    std::shared_ptr<Slot> take();
    void release(const std::shared_ptr<Slot>& slot);
    // Closes every connection (the server stops).
    void close_all();

    std::size_t size() const { return slots_.size(); }
    std::uint64_t evicted() const { return evicted_; }

  private:
    bool make_room();

    std::size_t max_;
    std::list<std::shared_ptr<Slot>> slots_;
    std::uint64_t evicted_ = 0;
};

}  // namespace keel::http
