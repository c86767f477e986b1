#include "keel/app/self_probe.hpp"

#include <set>

#include "keel/app/health_json.hpp"
#include "keel/health/bootstrap_probe.hpp"
#include "keel/http/message.hpp"

namespace keel::app {

namespace asio = net::asio;

Multiaddr self_probe_target(const Multiaddr& listen) {
    auto text = listen.to_string();
    for (auto [wildcard, loopback] :
         {std::pair{"/ip4/0.0.0.0/", "/ip4/127.0.0.1/"}, std::pair{"/ip6/::/", "/ip6/::1/"}})
        if (text.starts_with(wildcard))
            return *Multiaddr::parse(loopback + text.substr(std::string_view(wildcard).size()));
    return listen;
}

void probe_self_periodically(NodeContext& node, Host& observer, kad::Dht& observer_dht,
                             Multiaddr target, net::Duration interval, asio::steady_timer& timer,
                             std::shared_ptr<bool> alive) {
    asio::co_spawn(
        node.host.get_executor(),
        [&node, &observer, &observer_dht, &timer, target, interval,
         alive]() -> net::awaitable<void> {
            health::ProbeConfig config;
            while (*alive) {
                std::set<std::uint64_t> before;  // e.g. the discovery check's, left alone
                for (const auto& c : observer.connections_to(node.host.peer_id()))
                    before.insert(c->id);
                auto result =
                    co_await health::probe_bootstrap(observer, observer_dht, target, config);
                if (!*alive) co_return;
                // The probe's own connection is not kept: it would count as a client on the
                // operator's charts between probes.
                for (const auto& c : observer.connections_to(node.host.peer_id()))
                    if (!before.contains(c->id)) c->session->close();
                node.events.publish("self_probe", http::json_text(health_to_json(result)));
                node.self_probe = std::move(result);
                timer.expires_after(interval);
                auto [ec] = co_await timer.async_wait(net::use_result);
                if (ec || !*alive) co_return;
            }
        },
        asio::detached);
}

}  // namespace keel::app
