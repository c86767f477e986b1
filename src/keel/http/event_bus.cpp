#include "keel/http/event_bus.hpp"

namespace keel::http {

void EventBus::publish(std::string type, std::string json) {
    Event event{next_id_++, std::move(type), std::move(json)};
    for (auto& sub : subscribers_) {
        if (sub->queue.size() >= max_queue_) {
            sub->queue.pop_front();
            ++sub->dropped;
        }
        sub->queue.push_back(event);
        sub->arrived.notify();
    }
}

std::shared_ptr<EventBus::Subscription> EventBus::subscribe() {
    auto sub = std::make_shared<Subscription>(executor_);
    subscribers_.push_back(sub);
    return sub;
}

void EventBus::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
    subscribers_.remove(subscription);
}

}  // namespace keel::http
