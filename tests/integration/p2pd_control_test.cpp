// keel p2pd's control protocol in one process: a ControlDaemon on a Keel host (A, a DHT server),
// a second Keel host (B) on 127.0.0.1, and a test client speaking the protocol over a unix or TCP
// control socket: every request type, the two stream modes, and bad input costing one control
// connection only.
#include <keel/proto/p2pd.pb.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <filesystem>

#include "keel/base/cid.hpp"
#include "keel/base/varint.hpp"
#include "keel/kad/dht.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/yamux_stream.hpp"
#include "keel/p2pd/control_daemon.hpp"
#include "keel/p2pd/control_messages.hpp"
#include "keel/protocols/echo.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

using pb::p2pd::DHTRequest;
using pb::p2pd::DHTResponse;
using pb::p2pd::Request;
using pb::p2pd::Response;
using local = asio::local::stream_protocol;

constexpr std::string_view test_protocol = "/keel-test/p2pd/1.0.0";
// Named, not literals inside co_await: GCC 12 miscompiles array temporaries in coroutines.
constexpr std::string_view ping_text = "ping";
constexpr std::string_view pong_text = "pong";

struct TestNode {
    std::unique_ptr<Host> host;
    std::unique_ptr<kad::Dht> dht;
    Multiaddr addr;  // with /p2p
};

TestNode make_node(asio::io_context& io) {
    TestNode node;
    node.host = std::make_unique<Host>(io.get_executor(), test_config());
    auto bound = node.host->listen(loopback_any_port());
    node.addr = with_peer(bound.value(), node.host->peer_id());
    kad::DhtConfig config;
    config.server_mode = true;
    config.rpc_timeout = 2s;
    node.dht = std::make_unique<kad::Dht>(*node.host, config);
    node.dht->start();
    return node;
}

Request connect_request(const PeerId& peer, const Multiaddr& addr) {
    Request r;
    r.set_type(Request::CONNECT);
    r.mutable_connect()->set_peer(peer.bytes().data(), peer.bytes().size());
    auto bytes = addr.without(proto_code::p2p).to_bytes();
    r.mutable_connect()->add_addrs(bytes.data(), bytes.size());
    return r;
}

Request dht_request(DHTRequest::Type type) {
    Request r;
    r.set_type(Request::DHT);
    r.mutable_dht()->set_type(type);
    return r;
}

template <class Message>
net::awaitable<net::result<Message>> read_message(net::ByteStream& stream) {
    auto bytes = co_await net::read_length_prefixed(stream, p2pd::max_control_message);
    if (!bytes) co_return bytes.error();
    Message message;
    if (!message.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())))
        co_return make_error_code(net::net_errc::protocol_error);
    co_return message;
}

class P2pdControl : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("keel-p2pd-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        a_ = make_node(io_);
        b_ = make_node(io_);
        b_.host->set_handler(std::string(protocols::echo_protocol_id),
                             [](auto stream, auto) -> net::awaitable<void> {
                                 co_await protocols::serve_echo(*stream, 10s);
                             });
        daemon_ = std::make_unique<p2pd::ControlDaemon>(*a_.host, a_.dht.get());
        auto control = daemon_->listen(unix_addr("control.sock"));
        ASSERT_TRUE(control) << control.error().message();
        control_ = *control;
    }

    // Like a Host, a daemon is destroyed only once its io_context has stopped: the coroutines
    // answering requests capture it.
    void TearDown() override {
        for (auto* daemon : {daemon_.get(), other_daemon_.get()})
            if (daemon) daemon->stop();
        a_.dht->stop();
        b_.dht->stop();
        shut_down(io_, {a_.host.get(), b_.host.get()});
        daemon_.reset();
        other_daemon_.reset();
        std::filesystem::remove_all(dir_);
    }

    Multiaddr unix_addr(const std::string& name) const {
        return Multiaddr::parse("/unix" + (dir_ / name).string()).value();
    }

    std::unique_ptr<net::ByteStream> open_control(const Multiaddr& addr) {
        auto endpoint = p2pd::control_endpoint(addr).value();
        auto stream = run_task(io_, p2pd::connect_control(io_.get_executor(), endpoint, 2s), 3s);
        EXPECT_TRUE(stream && *stream);
        return stream && *stream ? std::move(**stream) : nullptr;
    }

    // Sends `request` on `stream` and reads one Response.
    std::optional<Response> exchange(net::ByteStream& stream, const Request& request,
                                     net::Duration timeout = 10s) {
        auto task = [&]() -> net::awaitable<net::result<Response>> {
            if (auto ec = co_await p2pd::write_message(stream, request)) co_return ec;
            co_return co_await read_message<Response>(stream);
        };
        auto result = run_task(io_, task(), timeout);
        if (!result || !*result) return std::nullopt;
        return **result;
    }

    std::optional<Response> ask(const Request& request, net::Duration timeout = 10s) {
        auto stream = open_control(control_);
        if (!stream) return std::nullopt;
        return exchange(*stream, request, timeout);
    }

    // A streaming DHT answer: the Response with BEGIN, then VALUEs until END.
    std::optional<std::vector<DHTResponse>> ask_stream(const Request& request) {
        auto stream = open_control(control_);
        if (!stream) return std::nullopt;
        auto first = exchange(*stream, request);
        if (!first || first->type() != Response::OK || !first->has_dht() ||
            first->dht().type() != DHTResponse::BEGIN)
            return std::nullopt;
        std::vector<DHTResponse> values;
        for (;;) {
            auto next = run_task(io_, read_message<DHTResponse>(*stream), 10s);
            if (!next || !*next) return std::nullopt;
            if ((*next)->type() == DHTResponse::END) return values;
            values.push_back(**next);
        }
    }

    // Registers test_protocol for a STREAM_HANDLER client listening on a unix socket of its own,
    // as daemon clients do; null if the daemon did not answer OK.
    std::unique_ptr<local::acceptor> register_handler_client() {
        auto client_path = dir_ / "handler.sock";
        auto listener =
            std::make_unique<local::acceptor>(io_, local::endpoint(client_path.string()));
        Request handler;
        handler.set_type(Request::STREAM_HANDLER);
        auto addr = unix_addr("handler.sock").to_bytes();
        handler.mutable_streamhandler()->set_addr(addr.data(), addr.size());
        handler.mutable_streamhandler()->add_proto(std::string(test_protocol));
        auto registered = ask(handler);
        if (!registered || registered->type() != Response::OK) return nullptr;
        return listener;
    }

    bool connected(Host& host, const PeerId& peer) {
        for (const auto& c : host.connections_to(peer))
            if (c->is_open()) return true;
        return false;
    }

    void connect_a_to_b() {
        auto response = ask(connect_request(b_.host->peer_id(), b_.addr));
        ASSERT_TRUE(response);
        ASSERT_EQ(response->type(), Response::OK) << response->error().msg();
        // Each side identifies the other on its own: both tables, not only the dialer's (B may
        // still be reading A's record when A has B's).
        ASSERT_TRUE(run_until(
            io_,
            [&] {
                return a_.dht->routing_table().size() > 0 && b_.dht->routing_table().size() > 0;
            },
            5s));
    }

    asio::io_context io_;
    std::filesystem::path dir_;
    TestNode a_, b_;
    std::unique_ptr<p2pd::ControlDaemon> daemon_;
    std::unique_ptr<p2pd::ControlDaemon> other_daemon_;  // a second one, for a test that needs it
    Multiaddr control_;
};

TEST_F(P2pdControl, IdentifyConnectListDisconnect) {
    auto identify = ask([] {
        Request r;
        r.set_type(Request::IDENTIFY);
        return r;
    }());
    ASSERT_TRUE(identify);
    ASSERT_EQ(identify->type(), Response::OK);
    EXPECT_EQ(PeerId::from_bytes(as_bytes(identify->identify().id())).value(), a_.host->peer_id());
    ASSERT_EQ(identify->identify().addrs_size(), 1);
    EXPECT_EQ(Multiaddr::from_bytes(as_bytes(identify->identify().addrs(0))).value(),
              a_.host->listen_addrs().front());

    connect_a_to_b();
    EXPECT_TRUE(connected(*a_.host, b_.host->peer_id()));
    Request list;
    list.set_type(Request::LIST_PEERS);
    auto peers = ask(list);
    ASSERT_TRUE(peers);
    ASSERT_EQ(peers->peers_size(), 1);
    EXPECT_EQ(PeerId::from_bytes(as_bytes(peers->peers(0).id())).value(), b_.host->peer_id());
    ASSERT_EQ(peers->peers(0).addrs_size(), 1);

    Request disconnect;
    disconnect.set_type(Request::DISCONNECT);
    disconnect.mutable_disconnect()->set_peer(b_.host->peer_id().bytes().data(),
                                              b_.host->peer_id().bytes().size());
    auto done = ask(disconnect);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->type(), Response::OK);
    EXPECT_TRUE(run_until(
        io_, [&] { return !connected(*a_.host, b_.host->peer_id()); }, 5s));
    auto after = ask(list);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->peers_size(), 0);

    // A peer that is not there: an ERROR naming the failure, not a hang.
    auto nobody = Multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(closed_port())).value();
    auto refused = ask(
        connect_request(PeerId::from_public_key(Ed25519KeyPair::generate().public_key()), nobody));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->type(), Response::ERROR);
    EXPECT_NE(refused->error().msg().find("refused"), std::string::npos) << refused->error().msg();
}

TEST_F(P2pdControl, ManyRequestsOnOneConnectionAndOverTcp) {
    auto tcp_control = daemon_->listen(loopback_any_port());
    ASSERT_TRUE(tcp_control);
    auto stream = open_control(*tcp_control);
    ASSERT_TRUE(stream);
    Request identify;
    identify.set_type(Request::IDENTIFY);
    for (int i = 0; i < 3; ++i) {
        auto response = exchange(*stream, identify);
        ASSERT_TRUE(response) << "request " << i;
        EXPECT_EQ(response->type(), Response::OK);
    }
    EXPECT_EQ(daemon_->stats().requests.at("IDENTIFY"), 3u);
}

TEST_F(P2pdControl, StreamOpenMakesTheControlConnectionTheStream) {
    b_.host->peer_store().add_address(b_.host->peer_id(), b_.addr.without(proto_code::p2p));
    a_.host->peer_store().add_address(b_.host->peer_id(), b_.addr.without(proto_code::p2p));
    Request open;
    open.set_type(Request::STREAM_OPEN);
    open.mutable_streamopen()->set_peer(b_.host->peer_id().bytes().data(),
                                        b_.host->peer_id().bytes().size());
    open.mutable_streamopen()->add_proto("/not-spoken/1.0.0");
    open.mutable_streamopen()->add_proto(std::string(protocols::echo_protocol_id));
    auto stream = open_control(control_);
    ASSERT_TRUE(stream);
    auto response = exchange(*stream, open);
    ASSERT_TRUE(response);
    ASSERT_EQ(response->type(), Response::OK) << response->error().msg();
    EXPECT_EQ(response->streaminfo().proto(), protocols::echo_protocol_id);
    EXPECT_EQ(PeerId::from_bytes(as_bytes(response->streaminfo().peer())).value(),
              b_.host->peer_id());
    EXPECT_EQ(Multiaddr::from_bytes(as_bytes(response->streaminfo().addr())).value(),
              b_.addr.without(proto_code::p2p));

    // 200 KiB through the pipe and B's echo, more than Yamux's initial window.
    auto payload = random_bytes(200 * 1024, 7);
    auto round_trip = [&]() -> net::awaitable<net::result<Bytes>> {
        if (auto ec = co_await stream->write_all(payload)) co_return ec;
        if (auto ec = co_await stream->close_write()) co_return ec;
        Bytes echoed;
        std::array<std::uint8_t, 8192> buffer{};
        for (;;) {
            auto n = co_await stream->read_some(buffer);
            if (!n) {
                if (n.error() == asio::error::eof) co_return echoed;
                co_return n.error();
            }
            echoed.insert(echoed.end(), buffer.begin(), buffer.begin() + *n);
        }
    };
    auto echoed = run_task(io_, round_trip(), 10s);
    ASSERT_TRUE(echoed && *echoed);
    EXPECT_EQ(**echoed, payload);
    EXPECT_EQ(daemon_->stats().streams_opened, 1u);

    // A protocol B does not speak: an ERROR, the control connection is not a stream.
    Request unknown = open;
    unknown.mutable_streamopen()->clear_proto();
    unknown.mutable_streamopen()->add_proto("/not-spoken/1.0.0");
    auto refused = ask(unknown);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->type(), Response::ERROR);
}

TEST_F(P2pdControl, StreamHandlerHandsInboundStreamsToTheClient) {
    auto listening = register_handler_client();
    ASSERT_TRUE(listening);
    auto& listener = *listening;

    // B opens a stream to A on the protocol; the daemon dials the client and writes StreamInfo.
    auto from_b = [&]() -> net::awaitable<net::result<Bytes>> {
        auto connection = co_await b_.host->connect(a_.addr);
        if (!connection) co_return connection.error().error;
        std::vector<std::string> wanted{std::string(test_protocol)};
        auto stream = co_await b_.host->new_stream(*connection, wanted);
        if (!stream) co_return stream.error().error;
        if (auto ec = co_await (*stream)->write_all(as_bytes(ping_text))) co_return ec;
        Bytes answer(4);
        if (auto ec = co_await net::read_exact(**stream, answer)) co_return ec;
        co_return answer;
    };
    auto at_client = [&]() -> net::awaitable<net::result<std::string>> {
        auto [ec, socket] = co_await listener.async_accept(net::use_result);
        if (ec) co_return ec;
        net::UnixStream stream(std::move(socket));
        auto info = co_await read_message<pb::p2pd::StreamInfo>(stream);
        if (!info) co_return info.error();
        Bytes ping(4);
        if (auto e = co_await net::read_exact(stream, ping)) co_return e;
        if (auto e = co_await stream.write_all(as_bytes(pong_text))) co_return e;
        auto peer = PeerId::from_bytes(as_bytes(info->peer()));
        co_return info->proto() + " " + (peer ? peer->to_base58() : "?") + " " +
            std::string(as_chars(ping));
    };
    using namespace asio::experimental::awaitable_operators;
    auto both = run_task(
        io_,
        [&]() -> net::awaitable<std::tuple<net::result<Bytes>, net::result<std::string>>> {
            co_return co_await (from_b() && at_client());
        }(),
        10s);
    ASSERT_TRUE(both);
    auto& [b_side, client_side] = *both;
    ASSERT_TRUE(b_side) << b_side.error().message();
    EXPECT_EQ(std::string(as_chars(*b_side)), "pong");
    ASSERT_TRUE(client_side) << client_side.error().message();
    EXPECT_EQ(*client_side,
              std::string(test_protocol) + " " + b_.host->peer_id().to_base58() + " ping");
    EXPECT_EQ(daemon_->stats().streams_handled, 1u);

    // A stopped daemon takes its protocols off the host: nobody is left to hand the streams to.
    auto registered_on_host = [&] {
        auto list = a_.host->protocols();
        return std::find(list.begin(), list.end(), test_protocol) != list.end();
    };
    EXPECT_TRUE(registered_on_host());
    daemon_->stop();
    EXPECT_FALSE(registered_on_host());
}

// A remote opens streams on a registered protocol at will, and each holds a socket to the client:
// past max_handler_streams they are reset, and a place comes back when a piped stream ends.
TEST_F(P2pdControl, InboundStreamsPastTheHandlerLimitAreReset) {
    daemon_->stop();
    p2pd::DaemonConfig config;
    config.max_handler_streams = 1;
    other_daemon_ = std::make_unique<p2pd::ControlDaemon>(*a_.host, a_.dht.get(), config);
    auto control = other_daemon_->listen(unix_addr("limited.sock"));
    ASSERT_TRUE(control) << control.error().message();
    control_ = *control;
    auto listening = register_handler_client();
    ASSERT_TRUE(listening);
    auto& listener = *listening;

    auto connection = run_task(io_, b_.host->connect(a_.addr), 5s);
    ASSERT_TRUE(connection && *connection);
    // With one protocol the proposal goes out with the first bytes: A sees the stream then.
    auto open_from_b = [&]() -> std::shared_ptr<net::YamuxStream> {
        std::vector<std::string> wanted{std::string(test_protocol)};
        auto stream = run_task(io_, b_.host->new_stream(**connection, wanted), 5s);
        EXPECT_TRUE(stream && *stream);
        if (!stream || !*stream) return nullptr;
        auto sent = run_task(io_, (**stream)->write_all(as_bytes(ping_text)), 5s);
        EXPECT_TRUE(sent && !*sent);
        return **stream;
    };
    auto accept_at_client = [&]() -> std::unique_ptr<net::UnixStream> {
        auto accepted = run_task(io_, listener.async_accept(net::use_result), 5s);
        if (!accepted || std::get<0>(*accepted)) return nullptr;
        return std::make_unique<net::UnixStream>(std::move(std::get<1>(*accepted)));
    };

    auto first = open_from_b();
    ASSERT_TRUE(first);
    auto first_at_client = accept_at_client();
    ASSERT_TRUE(first_at_client) << "the first stream reaches the client";
    auto second = open_from_b();
    ASSERT_TRUE(second);
    ASSERT_TRUE(run_until(
        io_, [&] { return other_daemon_->stats().handler_streams_refused == 1; }, 5s));
    Bytes byte(1);
    auto read = run_task(io_, net::read_exact(*second, byte), 5s);
    ASSERT_TRUE(read);
    EXPECT_TRUE(*read) << "the second stream is reset, not piped";

    // The first pipe ends (the client hangs up): its place is free again.
    first_at_client.reset();
    ASSERT_TRUE(run_until(
        io_, [&] { return other_daemon_->handler_streams_open() == 0; }, 5s));
    auto third = open_from_b();
    ASSERT_TRUE(third);
    auto third_at_client = accept_at_client();
    EXPECT_TRUE(third_at_client) << "a stream after the first ended reaches the client";
    EXPECT_TRUE(run_until(
        io_, [&] { return other_daemon_->stats().streams_handled == 2; }, 5s));
    EXPECT_EQ(other_daemon_->stats().handler_streams_refused, 1u);
}

TEST_F(P2pdControl, DhtRequests) {
    connect_a_to_b();
    auto key_of = [](const Cid& cid) { return cid.hash.encode(); };
    Cid from_b{1, Cid::raw, Multihash::sha2_256(as_bytes("provided by B"))};
    Cid from_a{1, Cid::raw, Multihash::sha2_256(as_bytes("provided by A"))};
    auto provided = run_task(io_, b_.dht->provide(key_of(from_b)), 5s);
    ASSERT_TRUE(provided && *provided);

    auto find = dht_request(DHTRequest::FIND_PROVIDERS);
    auto cid_bytes = from_b.to_bytes();
    find.mutable_dht()->set_cid(cid_bytes.data(), cid_bytes.size());
    find.mutable_dht()->set_count(1);
    auto providers = ask_stream(find);
    ASSERT_TRUE(providers);
    ASSERT_EQ(providers->size(), 1u);
    EXPECT_EQ(PeerId::from_bytes(as_bytes((*providers)[0].peer().id())).value(),
              b_.host->peer_id());

    auto provide = dht_request(DHTRequest::PROVIDE);
    auto a_cid = from_a.to_bytes();
    provide.mutable_dht()->set_cid(a_cid.data(), a_cid.size());
    auto announced = ask(provide);
    ASSERT_TRUE(announced);
    EXPECT_EQ(announced->type(), Response::OK) << announced->error().msg();
    auto found_on_b = run_task(io_, b_.dht->find_providers(key_of(from_a), 1), 5s);
    ASSERT_TRUE(found_on_b);
    ASSERT_EQ(found_on_b->size(), 1u);
    EXPECT_EQ(found_on_b->front().provider, a_.host->peer_id());

    auto closest = dht_request(DHTRequest::GET_CLOSEST_PEERS);
    closest.mutable_dht()->set_key("some key");
    auto peers = ask_stream(closest);
    ASSERT_TRUE(peers);
    ASSERT_FALSE(peers->empty());
    EXPECT_EQ(PeerId::from_bytes(as_bytes(peers->front().value())).value(), b_.host->peer_id());

    auto find_peer = dht_request(DHTRequest::FIND_PEER);
    find_peer.mutable_dht()->set_peer(b_.host->peer_id().bytes().data(),
                                      b_.host->peer_id().bytes().size());
    auto where = ask(find_peer);
    ASSERT_TRUE(where);
    ASSERT_EQ(where->type(), Response::OK) << where->error().msg();
    ASSERT_GE(where->dht().peer().addrs_size(), 1);

    auto public_key = dht_request(DHTRequest::GET_PUBLIC_KEY);
    public_key.mutable_dht()->set_peer(b_.host->peer_id().bytes().data(),
                                       b_.host->peer_id().bytes().size());
    auto key = ask(public_key);
    ASSERT_TRUE(key);
    ASSERT_EQ(key->type(), Response::OK);
    EXPECT_TRUE(
        b_.host->peer_id().matches(PublicKey::unmarshal(as_bytes(key->dht().value())).value()));

    // A /pk record of B, stored through A, read back through A (and present on B).
    std::string pk_key = "/pk/" + std::string(as_chars(b_.host->peer_id().bytes()));
    auto put = dht_request(DHTRequest::PUT_VALUE);
    put.mutable_dht()->set_key(pk_key);
    auto marshalled = b_.host->config().identity.public_key().marshal();
    put.mutable_dht()->set_value(marshalled.data(), marshalled.size());
    auto stored = ask(put);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->type(), Response::OK) << stored->error().msg();
    auto get = dht_request(DHTRequest::GET_VALUE);
    get.mutable_dht()->set_key(pk_key);
    auto value = ask(get);
    ASSERT_TRUE(value);
    ASSERT_EQ(value->type(), Response::OK) << value->error().msg();
    EXPECT_EQ(to_bytes(value->dht().value()), marshalled);

    Request protocols;
    protocols.set_type(Request::PEERSTORE);
    protocols.mutable_peerstore()->set_type(pb::p2pd::PeerstoreRequest::GET_PROTOCOLS);
    protocols.mutable_peerstore()->set_id(b_.host->peer_id().bytes().data(),
                                          b_.host->peer_id().bytes().size());
    auto spoken = ask(protocols);
    ASSERT_TRUE(spoken);
    ASSERT_EQ(spoken->type(), Response::OK);
    std::vector<std::string> list(spoken->peerstore().protos().begin(),
                                  spoken->peerstore().protos().end());
    EXPECT_NE(std::find(list.begin(), list.end(), protocols::echo_protocol_id), list.end());
}

TEST_F(P2pdControl, UnsupportedRequestsAnswerAnError) {
    for (auto type : {Request::PUBSUB, Request::CONNMANAGER}) {
        Request r;
        r.set_type(type);
        auto response = ask(r);
        ASSERT_TRUE(response) << Request::Type_Name(type);
        EXPECT_EQ(response->type(), Response::ERROR);
        EXPECT_NE(response->error().msg().find("not supported"), std::string::npos);
    }
    auto connected_to = dht_request(DHTRequest::FIND_PEERS_CONNECTED_TO_PEER);
    connected_to.mutable_dht()->set_peer(b_.host->peer_id().bytes().data(),
                                         b_.host->peer_id().bytes().size());
    auto response = ask(connected_to);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->type(), Response::ERROR);

    // A daemon started without a DHT says so.
    other_daemon_ = std::make_unique<p2pd::ControlDaemon>(*b_.host, nullptr);
    auto control = other_daemon_->listen(unix_addr("no-dht.sock"));
    ASSERT_TRUE(control);
    auto stream = open_control(*control);
    ASSERT_TRUE(stream);
    auto answer = exchange(*stream, dht_request(DHTRequest::GET_CLOSEST_PEERS));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->type(), Response::ERROR);
    EXPECT_NE(answer->error().msg().find("not enabled"), std::string::npos);
}

// Writes `bytes` raw and reports how the daemon answered: the Response if one came, and whether
// the connection was then closed.
struct RawOutcome {
    std::optional<Response> response;
    bool closed = false;
};

TEST_F(P2pdControl, BadInputClosesThatControlConnectionOnly) {
    auto send_raw = [&](Bytes bytes, bool half_close) {
        RawOutcome outcome;
        auto stream = open_control(control_);
        if (!stream) return outcome;
        auto task = [&]() -> net::awaitable<bool> {
            co_await stream->write_all(bytes);
            if (half_close) co_await stream->close_write();
            auto response = co_await read_message<Response>(*stream);
            if (response) {
                outcome.response = *response;
                response = co_await read_message<Response>(*stream);
            }
            outcome.closed = !response;
            co_return true;
        };
        run_task(io_, task(), 5s);
        return outcome;
    };
    auto with_prefix = [](Bytes body) {
        Bytes out;
        append_uvarint(out, body.size());
        out.insert(out.end(), body.begin(), body.end());
        return out;
    };

    // A length prefix over the bound: closed before anything is read or allocated.
    Bytes oversized;
    append_uvarint(oversized, p2pd::max_control_message + 1);
    auto o1 = send_raw(oversized, false);
    EXPECT_FALSE(o1.response);
    EXPECT_TRUE(o1.closed);
    // Truncated: 10 bytes announced, 3 sent, then end of stream.
    auto o2 = send_raw(Bytes{10, 8, 0, 18}, true);
    EXPECT_FALSE(o2.response);
    EXPECT_TRUE(o2.closed);
    // Not a protobuf, and an empty Request (its required type missing).
    auto o3 = send_raw(with_prefix(Bytes{0xff, 0xff, 0xff, 0xff}), false);
    EXPECT_FALSE(o3.response);
    EXPECT_TRUE(o3.closed);
    auto o4 = send_raw(with_prefix(Bytes{}), false);
    EXPECT_FALSE(o4.response);
    EXPECT_TRUE(o4.closed);
    // A request without the fields its type needs: an ERROR, then closed.
    Request empty_connect;
    empty_connect.set_type(Request::CONNECT);
    auto serialized = empty_connect.SerializeAsString();
    auto o5 = send_raw(with_prefix(to_bytes(serialized)), false);
    ASSERT_TRUE(o5.response);
    EXPECT_EQ(o5.response->type(), Response::ERROR);
    EXPECT_TRUE(o5.closed);
    // An unknown request type does not parse as a Request (a proto2 enum): closed.
    Bytes unknown_type{0x08, 0x63};  // field 1 = 99
    auto o6 = send_raw(with_prefix(unknown_type), false);
    EXPECT_TRUE(o6.closed);

    EXPECT_GE(daemon_->stats().bad_input, 5u);
    // The daemon still serves everyone else.
    Request identify;
    identify.set_type(Request::IDENTIFY);
    auto still = ask(identify);
    ASSERT_TRUE(still);
    EXPECT_EQ(still->type(), Response::OK);
}

}  // namespace
}  // namespace keel::test
