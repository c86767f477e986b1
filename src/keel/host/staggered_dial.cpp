#include "keel/host/staggered_dial.hpp"

#include "keel/net/condition.hpp"

namespace keel {

namespace asio = net::asio;

namespace {
struct DialRace {
    explicit DialRace(asio::any_io_executor ex, std::size_t n) : changed(ex), failures(n) {}
    net::Condition changed;  // an attempt ended
    std::shared_ptr<Connection> winner;
    std::size_t winner_index = 0;
    std::size_t finished = 0;
    std::vector<std::optional<Failure>> failures;
};
}  // namespace

net::awaitable<StaggeredDialResult> dial_staggered(Host& host, std::vector<Multiaddr> addrs,
                                                   net::Duration stagger) {
    auto start = net::Clock::now();
    auto race = std::make_shared<DialRace>(host.get_executor(), addrs.size());
    std::size_t launched = 0;
    while (!race->winner && race->finished < addrs.size()) {
        if (launched < addrs.size()) {
            std::size_t index = launched++;
            asio::co_spawn(
                host.get_executor(),
                [&host, race, index, addr = addrs[index]]() -> net::awaitable<void> {
                    auto conn = co_await host.connect(addr);
                    ++race->finished;
                    if (conn && !race->winner) {
                        race->winner = *conn;
                        race->winner_index = index;
                    } else if (!conn) {
                        race->failures[index] = conn.error();
                    }
                    race->changed.notify();
                },
                asio::detached);
        }
        // Wait for a result, or for the moment to start the next attempt. (A connect that
        // finished without suspending, to an open connection, has already been counted.)
        auto next_attempt =
            launched < addrs.size() ? net::Clock::now() + stagger : net::Clock::time_point::max();
        auto decided = [&] { return race->winner || race->finished == addrs.size(); };
        co_await race->changed.until(decided, next_attempt);
    }
    StaggeredDialResult result;
    result.connection = race->winner;
    result.winner_index = race->winner_index;
    result.failures = race->failures;
    result.elapsed = std::chrono::duration_cast<net::Duration>(net::Clock::now() - start);
    co_return result;
}

}  // namespace keel
