// Host, identify: asking each new connection who it is (peer ID checked against the key it
// sends), waiting for that answer, and what we say about ourselves, pushed when it changes.
#include "keel/host/host.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/net/log.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/protocols/identify.hpp"

namespace keel {

namespace asio = net::asio;
using asio::ip::tcp;
using net::awaitable;
using net::error_code;

awaitable<void> Host::identify_remote(std::shared_ptr<Connection> conn) {
    auto finish = [&](error_code ec) {
        if (ec) {
            conn->identify_error = ec;
            log().info("event=identify_failed peer={} error=\"{}\"", conn->peer, ec.message());
            // A peer that connects but will not say who it is holds a slot for nothing: an
            // inbound one is closed (an outbound one is the dialer's to judge).
            if (conn->direction == Direction::inbound && conn->is_open()) {
                ++stats_.unidentified_closed;
                conn->session->close();
            }
        } else {
            conn->identified = true;
            for (auto& observer : identified_observers_) observer(conn);
        }
        conn->identify_done.notify();
    };
    // Named, not braced inside co_await: GCC 12 miscompiles initializer lists in await expressions.
    std::vector<std::string> wanted{std::string(protocols::identify_protocol_id)};
    auto stream = co_await new_stream(conn, std::move(wanted));
    if (!stream) {
        finish(stream.error().error);
        co_return;
    }
    (*stream)->set_deadline(net::Clock::now() + config_.identify_timeout);
    auto info = co_await protocols::receive_identify(**stream);
    co_await (*stream)->close_write();
    if (!info) {
        finish(info.error());
        co_return;
    }
    if (info->public_key && !conn->peer.matches(*info->public_key)) {
        finish(make_error_code(net::net_errc::peer_id_mismatch));
        co_return;
    }
    info->listen_addrs = addresses_worth_keeping(std::move(info->listen_addrs), conn->remote_addr);
    peer_store_.apply_identify(conn->peer, *info);
    log().debug("event=identified peer={} agent=\"{}\" protocols={}", conn->peer,
                info->agent_version, info->protocols.size());
    finish({});
}

awaitable<HostResult<void>> Host::wait_identified(std::shared_ptr<Connection> conn) {
    auto deadline = net::Clock::now() + config_.identify_timeout;
    auto settled = [&] { return conn->identified || conn->identify_error.failed(); };
    co_await conn->identify_done.until(settled, deadline);
    if (conn->identified) co_return boost::system::result<void, Failure>{};
    if (conn->identify_error) co_return Failure{Phase::identify, conn->identify_error, {}};
    co_return Failure{Phase::identify, make_error_code(net::net_errc::timeout), {}};
}

protocols::IdentifyInfo Host::identify_info() const {
    protocols::IdentifyInfo info;
    info.protocol_version = config_.protocol_version;
    info.agent_version = config_.agent_version;
    info.public_key = config_.identity.public_key();
    info.listen_addrs = advertised_addrs();
    info.protocols = protocols();
    return info;
}

Bytes Host::identify_record(const Connection& conn) const {
    const auto now = net::Clock::now();
    // The listen addresses of a wildcard listener come from the interfaces, read again after
    // public_addrs()'s few seconds: the record is not kept longer than they are.
    if (identify_record_.empty() || now >= identify_record_until_) {
        identify_record_ = protocols::encode_identify(identify_info());
        identify_record_until_ = now + std::chrono::seconds(5);
    }
    return protocols::with_observed_addr(identify_record_, conn.remote_addr);
}

std::vector<Multiaddr> Host::advertised_addrs() const {
    // A wildcard listen address means nothing to a remote: its interface addresses instead.
    auto out = public_addrs();
    out.insert(out.end(), relayed_addrs_.begin(), relayed_addrs_.end());
    return out;
}

void Host::set_relayed_addrs(std::vector<Multiaddr> addrs) {
    if (addrs == relayed_addrs_) return;
    relayed_addrs_ = std::move(addrs);
    push_identify();
}

void Host::push_identify() {
    identify_record_.clear();  // something in it changed
    for (const auto& [id, conn] : connections_) {
        asio::co_spawn(
            executor_,
            [this, conn = conn]() -> awaitable<void> {
                std::vector<std::string> wanted{std::string(protocols::identify_push_protocol_id)};
                auto stream = co_await new_stream(conn, std::move(wanted));
                if (!stream) co_return;
                (*stream)->set_deadline(net::Clock::now() + config_.identify_timeout);
                auto record = identify_record(*conn);
                co_await protocols::send_identify_record(**stream, std::move(record));
            },
            asio::detached);
    }
}

}  // namespace keel
