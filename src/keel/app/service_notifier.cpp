#include "keel/app/service_notifier.hpp"

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>

#include "keel/net/log.hpp"

namespace keel::app {

namespace asio = net::asio;

ServiceNotifier::ServiceNotifier(asio::any_io_executor executor, std::function<bool()> healthy)
    : executor_(std::move(executor)), healthy_(std::move(healthy)) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    under_systemd_ = socket && *socket;
    std::uint64_t usec = 0;
    if (under_systemd_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        watchdog_interval_ =
            std::chrono::duration_cast<net::Duration>(std::chrono::microseconds(usec) / 2);
    if (watchdog_interval_ > net::Duration(0) && watchdog_interval_ < net::Duration(50))
        watchdog_interval_ = net::Duration(50);
}

ServiceNotifier::~ServiceNotifier() {
    stop_watchdog();
}

void ServiceNotifier::ready(const std::string& status) {
    if (!under_systemd_) return;
    sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%lu", status.c_str(),
               static_cast<unsigned long>(getpid()));
}

void ServiceNotifier::status(const std::string& text) {
    if (under_systemd_) sd_notifyf(0, "STATUS=%s", text.c_str());
}

void ServiceNotifier::stopping() {
    if (under_systemd_) sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void ServiceNotifier::start_watchdog() {
    if (watchdog_interval_ == net::Duration(0) || *alive_) return;
    *alive_ = true;
    timer_ = std::make_unique<asio::steady_timer>(executor_);
    asio::co_spawn(executor_, watchdog_loop(alive_), asio::detached);
}

void ServiceNotifier::stop_watchdog() {
    *alive_ = false;
    if (timer_) timer_->cancel();
}

net::awaitable<void> ServiceNotifier::watchdog_loop(std::shared_ptr<bool> alive) {
    bool was_healthy = true;
    while (*alive) {
        // This line runs on the node's event loop: reaching it proves the loop turns.
        bool healthy = healthy_ ? healthy_() : true;
        if (healthy) {
            sd_notify(0, "WATCHDOG=1");
        } else if (was_healthy) {
            // No WATCHDOG=1: if this lasts WatchdogSec, systemd restarts us.
            log().warn("event=watchdog_withheld reason=\"functional check failed\"");
            sd_notify(0, "STATUS=functional check failing: watchdog pings withheld");
        }
        was_healthy = healthy;
        timer_->expires_after(watchdog_interval_);
        co_await timer_->async_wait(net::use_result);
    }
}

bool dht_answers_find_node(kad::Dht& dht) {
    if (!dht.serving()) return false;
    Bytes key(32);
    randombytes_buf(key.data(), key.size());
    auto answer = dht.answer_find_node(key);
    // A server with peers answers with some; one with an empty table answers with none, which is
    // still an answer (the health timer judges emptiness; the watchdog judges liveness).
    return answer.size() <= dht.config().k;
}

}  // namespace keel::app
