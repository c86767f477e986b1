#pragma once
// The systemd service protocol (sd_notify): READY=1 once the node listens with its state loaded,
// STOPPING=1 on the way out, STATUS= lines, and a functional watchdog. WATCHDOG=1 is sent only
// while the node works: the event loop turns (the check runs on it) and the DHT answers a
// FIND_NODE built and handled here. A frozen or wedged process stops the pings and systemd kills
// and restarts it after WatchdogSec. Without NOTIFY_SOCKET (not under systemd) it does nothing.
#include <functional>
#include <memory>
#include <string>

#include "keel/kad/dht.hpp"

namespace keel::app {

class ServiceNotifier {
  public:
    // `healthy` is the functional check, run on the node's executor before each WATCHDOG=1.
    ServiceNotifier(net::asio::any_io_executor executor, std::function<bool()> healthy);
    ~ServiceNotifier();

    bool under_systemd() const { return under_systemd_; }
    void ready(const std::string& status);
    void status(const std::string& status);
    void stopping();
    // Starts the watchdog pings at half the interval systemd asked for (WATCHDOG_USEC); no-op when
    // it asked for none.
    void start_watchdog();
    void stop_watchdog();
    net::Duration watchdog_interval() const { return watchdog_interval_; }

  private:
    net::awaitable<void> watchdog_loop(std::shared_ptr<bool> alive);

    net::asio::any_io_executor executor_;
    std::function<bool()> healthy_;
    bool under_systemd_ = false;
    net::Duration watchdog_interval_{0};  // 0: no watchdog
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(false);
    std::unique_ptr<net::asio::steady_timer> timer_;
};

// The check `keel bootstrap` uses: the DHT handles a FIND_NODE for a random key (and a
// server answers it). True when an answer came back.
bool dht_answers_find_node(kad::Dht& dht);

}  // namespace keel::app
