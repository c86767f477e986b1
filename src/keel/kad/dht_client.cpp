// Dht, client side: one request to one peer (dial with backoff, stream, answer within a
// deadline), the same message to many peers at once, and the iterative lookup over kad/lookup.
#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/host/tcp_address.hpp"
#include "keel/kad/dht.hpp"
#include "keel/kad/kad_errc.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/log.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/task_group.hpp"

namespace keel::kad {

namespace asio = net::asio;
using net::awaitable;

// ---- client side ---------------------------------------------------------------------------

awaitable<net::result<KadMessage>> Dht::request(PeerId peer, KadMessage message,
                                                std::vector<Multiaddr> addrs) {
    auto type = message.type;
    // The Host's dial backoff (HostConfig::dial_backoff): a peer that just failed to answer a
    // dial is not dialled again by a lookup, a refresh or a store.
    if (!host_.is_connected(peer) && host_.dial_backoff().waiting(peer)) {
        stats_.sent.add(type, RpcOutcome::backoff);
        co_return make_error_code(kad_errc::dial_backoff);
    }
    bool connected = false;
    auto attempt = [&]() -> awaitable<net::result<KadMessage>> {
        auto conn = co_await host_.connect_peer(peer, addrs);
        if (!conn) co_return conn.error().error;
        connected = true;
        co_return co_await exchange(*conn, message);
    };
    auto result = co_await net::with_deadline(attempt(), config_.rpc_timeout);
    // Our caller gave up (a lookup that has its answer cancels its other queries): that says
    // nothing about the peer, so it is neither an error nor a failed dial.
    auto cancellation = co_await asio::this_coro::cancellation_state;
    const bool abandoned = !result && net::cancelled(cancellation);
    count_sent(type, result, abandoned);
    if (result) table_.mark_seen(peer);
    // Never connected: our deadline cut the dial (the Host saw a cancellation), or there was
    // no address to dial. (A failure the Host already noted for this attempt is not counted
    // twice: DialBackoff ignores failures during a wait.)
    if (!connected && !result && !abandoned) host_.note_failed_dial(peer);
    co_return result;
}

awaitable<net::result<KadMessage>> Dht::request(std::shared_ptr<Connection> connection,
                                                KadMessage message) {
    auto type = message.type;
    auto peer = connection->peer;
    auto result = co_await net::with_deadline(exchange(connection, message), config_.rpc_timeout);
    auto cancellation = co_await asio::this_coro::cancellation_state;
    count_sent(type, result, !result && net::cancelled(cancellation));
    if (result) table_.mark_seen(peer);
    co_return result;
}

awaitable<net::result<KadMessage>> Dht::exchange(std::shared_ptr<Connection> connection,
                                                 KadMessage message) {
    const auto type = message.type;
    std::vector<std::string> wanted{config_.profile.kad_protocol};
    auto stream = co_await host_.new_stream(connection, std::move(wanted));
    if (!stream) co_return stream.error().error;
    if (auto ec = co_await net::write_length_prefixed(**stream, encode_message(message)))
        co_return ec;
    if (type == MessageType::add_provider) {
        // No response to ADD_PROVIDER; a PING after it is answered once it is durable (Keel
        // servers). A server that does not answer PING still got the record.
        KadMessage ping;
        ping.type = MessageType::ping;
        KadMessage sent;
        sent.type = MessageType::add_provider;
        if (co_await net::write_length_prefixed(**stream, encode_message(ping))) co_return sent;
        auto bytes = co_await net::with_deadline(
            net::read_length_prefixed(**stream, max_message_size), config_.rpc_timeout / 2);
        co_await (*stream)->close_write();
        // The stream was negotiated lazily (the peer's identify listed the protocol), so a
        // refusal arrives here, in the first read: the record went nowhere.
        if (!bytes && bytes.error() == net::net_errc::protocol_not_supported)
            co_return bytes.error();
        if (!bytes) co_return sent;
        auto answer = decode_message(*bytes);
        if (answer && answer->type == MessageType::ping) co_return std::move(*answer);
        co_return sent;
    }
    // Nothing more goes on this stream: its FIN leaves with the request, so the server answers
    // and closes in one write instead of waking again for a FIN sent after its answer.
    co_await (*stream)->close_write();
    auto bytes = co_await net::read_length_prefixed(**stream, max_message_size);
    if (!bytes) co_return bytes.error();
    auto response = decode_message(*bytes);
    if (!response) co_return response.error();
    if (response->type != type) co_return make_error_code(kad_errc::malformed_message);
    co_return std::move(*response);
}

void Dht::count_sent(MessageType type, const net::result<KadMessage>& result, bool abandoned) {
    stats_.sent.add(type, result      ? RpcOutcome::ok
                          : abandoned ? RpcOutcome::cancelled
                                      : RpcOutcome::error);
}

bool Dht::serving() const {
    if (!config_.server_mode || !*alive_) return false;
    auto registered = host_.protocols();
    return std::find(registered.begin(), registered.end(), config_.profile.kad_protocol) !=
           registered.end();
}

std::vector<Multiaddr> Dht::worth_keeping(std::vector<Multiaddr> addrs, const PeerId& from) const {
    for (const auto& c : host_.connections_to(from))
        return addresses_worth_keeping(std::move(addrs), c->remote_addr);
    return addrs;
}

awaitable<LookupResult> Dht::lookup(Bytes key, MessageType type, OnResponse on_response) {
    ++stats_.lookups;
    auto target = kad_key(key);
    auto seeds = table_.closest(target, config_.k);
    if (seeds.empty()) ++stats_.lookup_failures;
    KadMessage message;
    message.type = type;
    message.key = std::move(key);
    LookupHooks hooks;
    hooks.request = [this](const PeerId& peer, const KadMessage& m,
                           const std::vector<Multiaddr>& addrs) { return request(peer, m, addrs); };
    hooks.on_response = std::move(on_response);
    hooks.on_referral = [this](const PeerId& from, KadPeer& p) {
        p.addrs = worth_keeping(std::move(p.addrs), from);
        for (const auto& a : p.addrs) host_.peer_store().add_address(p.id, a);
    };
    hooks.running = [alive = alive_] { return *alive; };
    auto result = co_await run_lookup(
        host_.get_executor(), target, host_.peer_id(), std::move(seeds), std::move(message),
        LookupParams{config_.k, config_.alpha, config_.lookup_timeout}, std::move(hooks));
    if (*alive_)
        table_.mark_refreshed(std::min(common_prefix_length(table_.self_key(), target), 255));
    co_return result;
}

// ---- fan-out: one message to many peers at once ----------------------------------------------

// The answers, shared by send_to_all and the requests it spawns, which may outlive it by a few
// handlers.
struct Dht::FanOut {
    explicit FanOut(std::size_t n) : answers(n) {}
    std::vector<std::optional<KadMessage>> answers;
    bool finished = false;  // send_to_all returned: answers are no longer read
};

awaitable<void> Dht::send_one(std::shared_ptr<FanOut> fan_out, std::size_t index, PeerId peer,
                              KadMessage message) {
    // The request against stop() (the loser is cancelled); send_to_all's task group cancels it
    // at the deadline. Named first: GCC 12 mishandles temporaries inside a co_await expression.
    using namespace asio::experimental::awaitable_operators;
    auto race = request(std::move(peer), std::move(message)) || stopped_.wait();
    auto winner = co_await std::move(race);
    if (fan_out->finished || winner.index() != 0) co_return;
    auto& response = std::get<0>(winner);
    if (response) fan_out->answers[index] = std::move(*response);
}

awaitable<std::vector<std::optional<KadMessage>>> Dht::send_to_all(std::vector<PeerId> peers,
                                                                   KadMessage message) {
    auto deadline = net::Clock::now() + config_.rpc_timeout;
    auto fan_out = std::make_shared<FanOut>(peers.size());
    // However this frame ends (a caller's cancellation ends it with an exception), the requests
    // still in flight stop writing answers, and (the group, destroyed first) are cancelled.
    struct EndOnExit {
        std::shared_ptr<FanOut> fan_out;
        ~EndOnExit() { fan_out->finished = true; }
    } end_on_exit{fan_out};
    if (!*alive_) co_return fan_out->answers;
    net::TaskGroup requests(host_.get_executor());
    for (std::size_t i = 0; i < peers.size(); ++i)
        requests.spawn(send_one(fan_out, i, peers[i], message));
    // Every request ends by the deadline (then the group cancels the rest), or within a few
    // handlers of stop(): wait for all of them, so that an answer that has just arrived still
    // counts. The grace only bounds a request slow to honour its cancellation.
    const bool all_answered = co_await requests.wait(deadline);
    if (!all_answered) {
        requests.cancel();
        co_await requests.wait(deadline + std::chrono::milliseconds(250));
    }
    auto answers = fan_out->answers;
    co_return answers;
}

}  // namespace keel::kad
