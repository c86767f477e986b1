#include "keel/http/connection_slots.hpp"

#include "keel/net/log.hpp"

namespace keel::http {

std::shared_ptr<ConnectionSlots::Slot> ConnectionSlots::take() {
    if (slots_.size() >= max_ && !make_room()) return nullptr;
    auto slot = std::make_shared<Slot>();
    slots_.push_back(slot);
    return slot;
}

void ConnectionSlots::release(const std::shared_ptr<Slot>& slot) {
    slots_.remove(slot);
}

void ConnectionSlots::close_all() {
    // A copy: closing may end sessions that release their slots.
    auto open = slots_;
    for (auto& slot : open)
        if (slot->close) slot->close();
}

bool ConnectionSlots::make_room() {
    std::shared_ptr<Slot> oldest;
    for (const auto& s : slots_)
        if (s->state == Slot::State::waiting && (!oldest || s->since < oldest->since)) oldest = s;
    if (!oldest) return false;
    if (oldest->close) oldest->close();
    slots_.remove(oldest);
    ++evicted_;
    log().debug("event=api_connection_evicted reason=waiting_longest evicted_total={}", evicted_);
    return true;
}

}  // namespace keel::http
