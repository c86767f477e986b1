#pragma once
// Live events for the API's SSE stream (peer connected, health changed, verification progress).
// Each subscriber has a bounded queue: a client that does not read loses its oldest events and is
// told so, instead of growing memory.
#include <deque>
#include <list>
#include <memory>
#include <string>

#include "keel/net/asio.hpp"
#include "keel/net/condition.hpp"

namespace keel::http {

struct Event {
    std::uint64_t id = 0;
    std::string type;
    std::string data;  // JSON text
};

class EventBus {
  public:
    struct Subscription {
        explicit Subscription(net::asio::any_io_executor ex) : arrived(ex) {}
        std::deque<Event> queue;
        std::uint64_t dropped = 0;
        net::Condition arrived;  // notified when an event is queued
    };

    explicit EventBus(net::asio::any_io_executor executor, std::size_t max_queue = 256)
        : executor_(std::move(executor)), max_queue_(max_queue) {}

    void publish(std::string type, std::string json);
    std::shared_ptr<Subscription> subscribe();
    void unsubscribe(const std::shared_ptr<Subscription>& subscription);
    std::size_t subscribers() const { return subscribers_.size(); }
    std::uint64_t published() const { return next_id_ - 1; }

  private:
    net::asio::any_io_executor executor_;
    std::size_t max_queue_;
    std::uint64_t next_id_ = 1;
    std::list<std::shared_ptr<Subscription>> subscribers_;
};

}  // namespace keel::http
