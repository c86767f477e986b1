// A Keel host facing misbehaving peers over 127.0.0.1. Each test checks that the bad connection or
// stream is closed, that the host logged why, and that the host still serves a fresh, well-behaved
// client afterwards.
#include <keel/proto/noise.pb.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <initializer_list>

#include "keel/net/framing.hpp"
#include "keel/net/multistream.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/noise_session.hpp"
#include "keel/net/yamux_frame.hpp"
#include "keel/net/yamux_stream.hpp"
#include "keel/noise/handshake_state.hpp"
#include "keel/protocols/ping.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

namespace yamux = net::yamux;

Bytes frame_header(std::uint8_t version, std::uint8_t type, std::uint16_t flags,
                   std::uint32_t stream_id, std::uint32_t length) {
    yamux::FrameHeader h{yamux::FrameType::data, flags, stream_id, length};
    auto bytes = h.encode();
    bytes[0] = version;
    bytes[1] = type;
    return Bytes(bytes.begin(), bytes.end());
}

// Splits what a Yamux peer sent into frames; true if one of them is GoAway(protocol error).
bool has_go_away_protocol_error(const Bytes& received) {
    std::size_t at = 0;
    while (at + yamux::header_size <= received.size()) {
        std::array<std::uint8_t, yamux::header_size> head{};
        std::copy_n(received.begin() + static_cast<std::ptrdiff_t>(at), head.size(), head.begin());
        auto h = yamux::FrameHeader::decode(head);
        if (!h) return false;
        if (h->type == yamux::FrameType::go_away &&
            h->length == static_cast<std::uint32_t>(yamux::GoAwayCode::protocol_error))
            return true;
        at += yamux::header_size + (h->type == yamux::FrameType::data ? h->length : 0);
    }
    return false;
}

// Noise handshake messages: a 2-byte big-endian length, then the message.
Bytes framed(BytesView message) {
    Bytes out{static_cast<std::uint8_t>(message.size() >> 8),
              static_cast<std::uint8_t>(message.size() & 0xff)};
    out.insert(out.end(), message.begin(), message.end());
    return out;
}

net::awaitable<net::result<Bytes>> read_framed(net::ByteStream& stream) {
    std::array<std::uint8_t, 2> prefix{};
    if (auto ec = co_await net::read_exact(stream, prefix)) co_return ec;
    Bytes message(std::size_t{prefix[0]} << 8 | prefix[1]);
    if (auto ec = co_await net::read_exact(stream, message)) co_return ec;
    co_return message;
}

// Raw TCP, then multistream-select "/noise", as a dialer would.
net::awaitable<net::result<std::unique_ptr<net::TcpStream>>> connect_and_select_noise(
    tcp::endpoint endpoint) {
    auto raw = co_await connect_raw(endpoint);
    if (!raw) co_return raw.error();
    std::vector<std::string> noise{std::string(net::noise_protocol_id)};
    auto chosen = co_await net::multistream_select(**raw, noise);
    if (!chosen) co_return chosen.error();
    co_return std::move(*raw);
}

// A secured connection built by hand (no Yamux session on our side): the test speaks raw Yamux
// frames through the Noise stream.
net::awaitable<net::result<net::SecuredConnection>> secure_by_hand(tcp::endpoint endpoint,
                                                                   Ed25519KeyPair identity,
                                                                   PeerId expected) {
    auto raw = co_await connect_and_select_noise(endpoint);
    if (!raw) co_return raw.error();
    std::vector<std::string> muxers{std::string(net::yamux_protocol_id)};
    std::optional<PeerId> peer = expected;
    co_return co_await net::noise_secure(std::move(*raw), noise::Role::initiator, identity, muxers,
                                         peer);
}

// The initiator side of Noise XX driven step by step; message 3 carries an identity signature
// over `signed_key` (the real static key for a valid handshake, another key for a forged one).
net::awaitable<net::error_code> handshake_by_hand(net::ByteStream& stream, bool sign_real_key) {
    auto static_keys = noise::KeyPair::generate();
    noise::HandshakeState hs(noise::Role::initiator, {}, static_keys);
    auto m1 = hs.write_message({});
    if (!m1) co_return m1.error();
    Bytes first = framed(*m1);
    if (auto ec = co_await stream.write_all(first)) co_return ec;
    auto m2 = co_await read_framed(stream);
    if (!m2) co_return m2.error();
    auto p2 = hs.read_message(*m2);
    if (!p2) co_return p2.error();

    auto identity = Ed25519KeyPair::generate();
    auto signed_key =
        sign_real_key ? static_keys.public_key : noise::KeyPair::generate().public_key;
    Bytes to_sign = to_bytes(net::noise_signature_prefix);
    to_sign.insert(to_sign.end(), signed_key.begin(), signed_key.end());
    auto sig = identity.sign(to_sign);
    auto key = identity.public_key().marshal();
    pb::NoiseHandshakePayload payload;
    payload.set_identity_key(key.data(), key.size());
    payload.set_identity_sig(sig.data(), sig.size());
    payload.mutable_extensions()->add_stream_muxers(std::string(net::yamux_protocol_id));
    Bytes payload_bytes = to_bytes(payload.SerializeAsString());
    auto m3 = hs.write_message(payload_bytes);
    if (!m3) co_return m3.error();
    Bytes third = framed(*m3);
    co_return co_await stream.write_all(third);
}

struct ReadOutcome {
    bool done = false;
    std::size_t bytes = 0;
    net::error_code error;
};

// Sends the multistream header (the listener answers with its own once it has the dialer's), then
// reads until the stream ends.
net::awaitable<void> read_stream(std::shared_ptr<net::YamuxStream> stream,
                                 std::shared_ptr<ReadOutcome> out) {
    Bytes header = net::length_prefixed(as_bytes(std::string(net::multistream_header) + "\n"));
    if (auto ec = co_await stream->write_all(header)) {
        out->error = ec;
        out->done = true;
        co_return;
    }
    std::array<std::uint8_t, 256> buffer{};
    while (true) {
        auto n = co_await stream->read_some(buffer);
        if (!n) {
            out->error = n.error();
            break;
        }
        out->bytes += *n;
    }
    out->done = true;
}

class BadInput : public ::testing::Test {
  protected:
    void SetUp() override {
        spdlog::drop("keel");
        sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
        auto logger = std::make_shared<spdlog::logger>("keel", sink_);
        logger->set_level(spdlog::level::debug);
        spdlog::register_logger(logger);
    }

    void TearDown() override {
        std::vector<Host*> hosts{server_.get()};
        for (auto& client : clients_) hosts.push_back(client.get());
        shut_down(io_, hosts);
        clients_.clear();
        server_.reset();
        spdlog::drop("keel");
    }

    void start_server(const std::function<void(HostConfig&)>& tweak = {}) {
        auto config = test_config();
        if (tweak) tweak(config);
        server_ = std::make_unique<Host>(io_.get_executor(), std::move(config));
        auto bound = server_->listen(loopback_any_port());
        ASSERT_TRUE(bound) << bound.error().message();
        server_endpoint_ = endpoint_of(*bound);
        server_addr_ = with_peer(*bound, server_->peer_id());
    }

    Host& new_client() {
        clients_.push_back(std::make_unique<Host>(io_.get_executor(), test_config()));
        return *clients_.back();
    }

    std::vector<std::string> log_lines() const { return sink_->last_formatted(); }

    // True once some log line contains every one of `parts`.
    bool logged(std::initializer_list<std::string_view> parts) const {
        for (const auto& line : log_lines()) {
            bool all = std::all_of(parts.begin(), parts.end(), [&](std::string_view part) {
                return line.find(part) != std::string::npos;
            });
            if (all) return true;
        }
        return false;
    }

    void expect_logged(std::initializer_list<std::string_view> parts) {
        bool seen = run_until(
            io_, [&] { return logged(parts); }, 5s);
        std::string wanted;
        for (auto part : parts) wanted += std::string(part) + " & ";
        std::string all;
        for (const auto& line : log_lines()) all += line + "\n";
        EXPECT_TRUE(seen) << "no log line with " << wanted << "in:\n" << all;
    }

    // The peer hangs up: reading returns an error or the end within `timeout`.
    void expect_closed_by_server(net::ByteStream& stream, std::shared_ptr<Bytes> seen = nullptr,
                                 net::Duration timeout = 3s) {
        auto ended = run_task(io_, read_until_closed(stream, seen), timeout);
        ASSERT_TRUE(ended.has_value()) << "the server kept the bad connection open";
        EXPECT_TRUE(*ended == asio::error::eof || *ended == asio::error::connection_reset)
            << ended->message();
    }

    // A well-behaved client still gets served: dial, then ping.
    void expect_serves_fresh_client() {
        Host& client = new_client();
        auto conn = run_task(io_, client.dial(server_addr_), 10s);
        ASSERT_TRUE(conn.has_value()) << "dial did not finish";
        ASSERT_TRUE(conn->has_value()) << conn->error().message();
        std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
        auto stream = run_task(io_, client.new_stream(**conn, std::move(wanted)), 10s);
        ASSERT_TRUE(stream.has_value()) << "negotiation did not finish";
        ASSERT_TRUE(stream->has_value()) << stream->error().message();
        auto rtt = run_task(io_, protocols::ping_once(***stream), 10s);
        ASSERT_TRUE(rtt.has_value()) << "ping did not finish";
        EXPECT_TRUE(rtt->has_value()) << rtt->error().message();
    }

    // No connection of the server stays open apart from those of well-behaved clients.
    void expect_server_connections(std::size_t n) {
        EXPECT_TRUE(run_until(
            io_, [&] { return server_->connections().size() == n; }, 5s))
            << server_->connections().size() << " connections open on the server";
    }

    asio::io_context io_;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::unique_ptr<Host> server_;
    std::vector<std::unique_ptr<Host>> clients_;
    tcp::endpoint server_endpoint_;
    Multiaddr server_addr_;
};

// 1. Random bytes where multistream-select belongs.
TEST_F(BadInput, GarbageInsteadOfMultistream) {
    ASSERT_NO_FATAL_FAILURE(start_server());
    auto raw = run_task(io_, connect_raw(server_endpoint_), 5s);
    ASSERT_TRUE(raw && *raw);
    auto stream = std::move(**raw);
    // 4 KiB: more than any length prefix the listener accepts (1 KiB), so it decides without
    // waiting for more.
    Bytes garbage = random_bytes(4096, 0xbadc0de);
    auto written = run_task(io_, stream->write_all(garbage), 5s);
    ASSERT_TRUE(written.has_value());
    ASSERT_NO_FATAL_FAILURE(expect_closed_by_server(*stream));
    expect_logged({"event=inbound_upgrade_failed", "phase=security"});
    EXPECT_EQ(server_->stats().upgrade_failures, 1u);
    expect_server_connections(0);
    expect_serves_fresh_client();
}

// 2. After a correct "/noise" negotiation, a handshake length prefix of 0xFFFF.
TEST_F(BadInput, OversizedNoiseHandshakeFrame) {
    ASSERT_NO_FATAL_FAILURE(start_server());
    auto raw = run_task(io_, connect_and_select_noise(server_endpoint_), 5s);
    ASSERT_TRUE(raw.has_value());
    ASSERT_TRUE(raw->has_value()) << raw->error().message();
    auto stream = std::move(**raw);
    Bytes prefix{0xff, 0xff};
    Bytes body = random_bytes(1024, 7);  // the start of a 65535-byte frame
    prefix.insert(prefix.end(), body.begin(), body.end());
    auto written = run_task(io_, stream->write_all(prefix), 5s);
    ASSERT_TRUE(written.has_value());
    ASSERT_NO_FATAL_FAILURE(expect_closed_by_server(*stream));
    expect_logged({"event=inbound_upgrade_failed", "phase=security", "size limit"});
    expect_server_connections(0);
    expect_serves_fresh_client();
}

// Control for test 3: the hand-driven handshake is accepted when the signature is right, so a
// rejection below is about the signature and nothing else.
TEST_F(BadInput, HandDrivenHandshakeWithValidSignatureIsAccepted) {
    ASSERT_NO_FATAL_FAILURE(start_server());
    auto raw = run_task(io_, connect_and_select_noise(server_endpoint_), 5s);
    ASSERT_TRUE(raw.has_value());
    ASSERT_TRUE(raw->has_value()) << raw->error().message();
    auto stream = std::move(**raw);
    auto sent = run_task(io_, handshake_by_hand(*stream, true), 5s);
    ASSERT_TRUE(sent.has_value());
    ASSERT_FALSE(*sent) << sent->message();
    expect_server_connections(1);
}

// 3. Message 3 signs a different Noise static key than the one used in the handshake.
TEST_F(BadInput, BadIdentitySignature) {
    ASSERT_NO_FATAL_FAILURE(start_server());
    auto raw = run_task(io_, connect_and_select_noise(server_endpoint_), 5s);
    ASSERT_TRUE(raw.has_value());
    ASSERT_TRUE(raw->has_value()) << raw->error().message();
    auto stream = std::move(**raw);
    auto sent = run_task(io_, handshake_by_hand(*stream, false), 5s);
    ASSERT_TRUE(sent.has_value());
    ASSERT_FALSE(*sent) << sent->message();
    ASSERT_NO_FATAL_FAILURE(expect_closed_by_server(*stream));
    expect_logged({"event=inbound_upgrade_failed", "phase=security",
                   "identity signature over the Noise key is invalid"});
    expect_server_connections(0);
    expect_serves_fresh_client();
}

// 4. A client that dials the server's address expecting another peer.
TEST_F(BadInput, PeerIdMismatch) {
    ASSERT_NO_FATAL_FAILURE(start_server());
    Host& client = new_client();
    auto someone_else = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    auto wrong = with_peer(server_addr_, someone_else);
    auto conn = run_task(io_, client.dial(wrong), 10s);
    ASSERT_TRUE(conn.has_value()) << "dial did not finish";
    ASSERT_FALSE(conn->has_value()) << "connected to the wrong peer";
    EXPECT_EQ(conn->error().phase, Phase::security);
    EXPECT_EQ(conn->error().error, net::net_errc::peer_id_mismatch) << conn->error().message();
    // The client hung up after message 2; the server logs the broken handshake.
    expect_logged({"event=dial_failed", "phase=security", "does not match"});
    expect_logged({"event=inbound_upgrade_failed", "phase=security"});
    EXPECT_TRUE(client.connections().empty());
    expect_server_connections(0);
    expect_serves_fresh_client();
}

// 5. A Yamux header with an unknown version, or an unknown frame type.
class BadYamuxHeader : public BadInput,
                       public ::testing::WithParamInterface<std::pair<std::uint8_t, std::uint8_t>> {
};

TEST_P(BadYamuxHeader, ServerEndsTheSession) {
    auto [version, type] = GetParam();
    ASSERT_NO_FATAL_FAILURE(start_server());
    auto identity = Ed25519KeyPair::generate();
    auto secured =
        run_task(io_, secure_by_hand(server_endpoint_, identity, server_->peer_id()), 5s);
    ASSERT_TRUE(secured.has_value());
    ASSERT_TRUE(secured->has_value()) << secured->error().message();
    auto& conn = **secured;
    ASSERT_EQ(conn.muxer, std::optional<std::string>(net::yamux_protocol_id));
    expect_server_connections(1);

    Bytes bad = frame_header(version, type, 0, 0, 0);
    auto written = run_task(io_, conn.stream->write_all(bad), 5s);
    ASSERT_TRUE(written.has_value());
    auto seen = std::make_shared<Bytes>();
    ASSERT_NO_FATAL_FAILURE(expect_closed_by_server(*conn.stream, seen));
    EXPECT_TRUE(has_go_away_protocol_error(*seen)) << "no GoAway(protocol error) before closing";
    expect_logged({"event=yamux_bad_frame", "version=" + std::to_string(version),
                   "type=" + std::to_string(type)});
    expect_logged({"event=connection_closed", "peer violated the protocol"});
    expect_server_connections(0);
    expect_serves_fresh_client();
}

INSTANTIATE_TEST_SUITE_P(VersionOrType, BadYamuxHeader,
                         ::testing::Values(std::pair<std::uint8_t, std::uint8_t>{1, 0},
                                           std::pair<std::uint8_t, std::uint8_t>{0, 7}),
                         [](const auto& info) {
                             return info.param.first != 0 ? std::string("UnknownVersion")
                                                          : std::string("UnknownType");
                         });

// 6. A DATA frame one byte larger than the stream's 256 KiB receive window.
TEST_F(BadInput, WindowViolation) {
    ASSERT_NO_FATAL_FAILURE(start_server());
    auto identity = Ed25519KeyPair::generate();
    auto secured =
        run_task(io_, secure_by_hand(server_endpoint_, identity, server_->peer_id()), 5s);
    ASSERT_TRUE(secured.has_value());
    ASSERT_TRUE(secured->has_value()) << secured->error().message();
    auto& conn = **secured;
    expect_server_connections(1);

    constexpr std::uint32_t too_much = 256 * 1024 + 1;
    ASSERT_EQ(server_->config().yamux.initial_window + 1, too_much);
    // Stream 1 (a client's first): WINDOW_UPDATE with SYN opens it, then the oversized DATA.
    Bytes frames = frame_header(0, 1, yamux::flag::syn, 1, 0);
    Bytes data = frame_header(0, 0, 0, 1, too_much);
    frames.insert(frames.end(), data.begin(), data.end());
    Bytes payload = random_bytes(too_much, 6);
    frames.insert(frames.end(), payload.begin(), payload.end());
    // The server may hang up while we are still writing; either way the write ends.
    auto written = run_task(io_, conn.stream->write_all(frames), 5s);
    ASSERT_TRUE(written.has_value()) << "write blocked";
    auto seen = std::make_shared<Bytes>();
    ASSERT_NO_FATAL_FAILURE(expect_closed_by_server(*conn.stream, seen));
    EXPECT_TRUE(has_go_away_protocol_error(*seen)) << "no GoAway(protocol error) before closing";
    expect_logged({"event=yamux_window_exceeded", "stream=1", "length=262145", "window=262144"});
    expect_logged({"event=connection_closed", "peer violated the protocol"});
    expect_server_connections(0);
    expect_serves_fresh_client();
}

// 7. A client opening more streams than the server allows: the extra ones are reset, the
// connection lives on.
TEST_F(BadInput, StreamsBeyondTheLimitAreReset) {
    constexpr std::size_t limit = 8, opened = 20;
    ASSERT_NO_FATAL_FAILURE(
        start_server([](HostConfig& config) { config.yamux.max_inbound_streams = limit; }));
    Host& client = new_client();
    auto dialed = run_task(io_, client.dial(server_addr_), 10s);
    ASSERT_TRUE(dialed.has_value());
    ASSERT_TRUE(dialed->has_value()) << dialed->error().message();
    auto conn = **dialed;
    expect_server_connections(1);
    auto inbound = server_->connections().front();
    // Identify (one stream each way) is over before we start counting.
    ASSERT_TRUE(run_until(
        io_,
        [&] {
            return conn->identified && conn->session->stream_count() == 0 &&
                   inbound->session->stream_count() == 0;
        },
        10s));

    std::vector<std::shared_ptr<net::YamuxStream>> streams;
    std::vector<std::shared_ptr<ReadOutcome>> outcomes;
    for (std::size_t i = 0; i < opened; ++i) {
        auto stream = conn->session->open_stream();
        ASSERT_TRUE(stream) << stream.error().message();
        streams.push_back(*stream);
        outcomes.push_back(std::make_shared<ReadOutcome>());
        asio::co_spawn(io_, read_stream(*stream, outcomes.back()), asio::detached);
    }
    // Refused streams end with a reset; accepted ones answer our multistream header with theirs and
    // then wait for our proposal.
    auto count = [&](auto pred) {
        return static_cast<std::size_t>(std::count_if(outcomes.begin(), outcomes.end(), pred));
    };
    auto reset = [](const auto& o) { return o->done; };
    auto accepted = [](const auto& o) { return !o->done && o->bytes > 0; };
    bool settled = run_until(
        io_, [&] { return count(reset) == opened - limit && count(accepted) == limit; }, 5s);
    EXPECT_TRUE(settled) << count(reset) << " reset, " << count(accepted) << " accepted";
    for (std::size_t i = 0; i < opened; ++i) {
        if (outcomes[i]->done) {
            EXPECT_EQ(outcomes[i]->error, net::net_errc::stream_reset)
                << "stream " << streams[i]->id() << ": " << outcomes[i]->error.message();
        }
    }
    expect_logged({"event=yamux_stream_refused", "limit=8"});
    EXPECT_TRUE(conn->is_open());
    EXPECT_TRUE(inbound->is_open());

    // Close the accepted ones; a fresh stream on the same connection works.
    for (auto& stream : streams) stream->reset();
    ASSERT_TRUE(run_until(
        io_, [&] { return count([](const auto& o) { return o->done; }) == opened; }, 5s));
    std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
    auto ping_stream = run_task(io_, client.new_stream(conn, std::move(wanted)), 10s);
    ASSERT_TRUE(ping_stream.has_value());
    ASSERT_TRUE(ping_stream->has_value()) << ping_stream->error().message();
    auto rtt = run_task(io_, protocols::ping_once(***ping_stream), 10s);
    ASSERT_TRUE(rtt.has_value());
    EXPECT_TRUE(rtt->has_value()) << rtt->error().message();
    EXPECT_TRUE(conn->is_open());
    expect_serves_fresh_client();
}

// 8. A TCP peer that connects and never speaks meets the handshake deadline.
TEST_F(BadInput, SilentPeerMeetsHandshakeDeadline) {
    ASSERT_NO_FATAL_FAILURE(start_server(
        [](HostConfig& config) { config.handshake_timeout = std::chrono::milliseconds(500); }));
    auto raw = run_task(io_, connect_raw(server_endpoint_), 5s);
    ASSERT_TRUE(raw && *raw);
    auto stream = std::move(**raw);
    auto start = net::Clock::now();
    ASSERT_NO_FATAL_FAILURE(expect_closed_by_server(*stream, nullptr, 2s));
    EXPECT_GE(net::Clock::now() - start, 400ms) << "closed before the deadline";
    expect_logged({"event=inbound_upgrade_failed", "phase=security", "deadline exceeded"});
    expect_server_connections(0);
    expect_serves_fresh_client();
}

}  // namespace
}  // namespace keel::test
