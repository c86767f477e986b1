#include "keel/net/noise_session.hpp"

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/net/deadline.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/yamux_session.hpp"
#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using namespace asio::experimental::awaitable_operators;
using test::run;

constexpr Duration io_limit{5000};
const std::vector<std::string> yamux_only{std::string(yamux_protocol_id)};
const std::vector<std::string> no_muxers{};

struct Handshake {
    result<SecuredConnection> initiator = make_error_code(net_errc::timeout);
    result<SecuredConnection> responder = make_error_code(net_errc::timeout);
};

// Both sides of the handshake over a fresh memory pair, each bounded by a deadline. When
// `initiator_log` is given, every byte the initiator writes (handshake and transport) is recorded.
awaitable<Handshake> handshake(const Ed25519KeyPair& initiator_id,
                               const std::vector<std::string>& initiator_muxers,
                               const Ed25519KeyPair& responder_id,
                               const std::vector<std::string>& responder_muxers,
                               std::optional<PeerId> expected_peer,
                               std::shared_ptr<test::ProbeStream::Log>* initiator_log = nullptr) {
    auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
    std::unique_ptr<ByteStream> init_raw = std::move(pair.first);
    if (initiator_log) {
        auto probe = std::make_unique<test::ProbeStream>(std::move(init_raw));
        *initiator_log = probe->log();
        init_raw = std::move(probe);
    }
    std::optional<PeerId> none;
    auto both = co_await (with_deadline(noise_secure(std::move(init_raw), noise::Role::initiator,
                                                     initiator_id, initiator_muxers, expected_peer),
                                        io_limit) &&
                          with_deadline(noise_secure(std::move(pair.second), noise::Role::responder,
                                                     responder_id, responder_muxers, none),
                                        io_limit));
    Handshake out;
    out.initiator = std::move(std::get<0>(both));
    out.responder = std::move(std::get<1>(both));
    co_return out;
}

// A Host makes its Noise static key and signed payload once (NoiseIdentity) and answers every
// handshake with them: two initiators both authenticate it, and the transport works.
TEST(NoiseSession, OneNoiseIdentityServesManyHandshakes) {
    run([]() -> awaitable<void> {
        auto responder_id = Ed25519KeyPair::generate();
        NoiseIdentity ours(responder_id, yamux_only);
        for (int i = 0; i < 2; ++i) {
            auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
            std::optional<PeerId> expected = PeerId::from_public_key(responder_id.public_key());
            auto both = co_await (
                with_deadline(noise_secure(std::move(pair.first), noise::Role::initiator,
                                           Ed25519KeyPair::generate(), yamux_only, expected),
                              io_limit) &&
                with_deadline(noise_secure(std::move(pair.second), noise::Role::responder, ours,
                                           std::nullopt),
                              io_limit));
            KEEL_CO_ASSERT_OK(std::get<0>(both));
            KEEL_CO_ASSERT_OK(std::get<1>(both));
            EXPECT_EQ(std::get<0>(both)->remote_peer, *expected);
            EXPECT_EQ(std::get<1>(both)->muxer, std::string(yamux_protocol_id));
            auto& a = *std::get<0>(both)->stream;
            auto& b = *std::get<1>(both)->stream;
            KEEL_CO_ASSERT_NO_ERROR(co_await a.write_all(to_bytes("ping")));
            Bytes got(4);
            KEEL_CO_ASSERT_NO_ERROR(co_await read_exact(b, got));
            EXPECT_EQ(got, to_bytes("ping"));
        }
    });
}

TEST(NoiseSession, PeerIdsMatchEachOthersKeys) {
    auto alice = Ed25519KeyPair::generate();
    auto bob = Ed25519KeyPair::generate();
    run([&]() -> awaitable<void> {
        std::optional<PeerId> expect_bob = PeerId::from_public_key(bob.public_key());
        auto hs = co_await handshake(alice, yamux_only, bob, yamux_only, expect_bob);
        KEEL_CO_ASSERT_OK(hs.initiator);
        KEEL_CO_ASSERT_OK(hs.responder);
        EXPECT_EQ(hs.initiator->remote_peer, PeerId::from_public_key(bob.public_key()));
        EXPECT_EQ(hs.initiator->remote_key, bob.public_key());
        EXPECT_EQ(hs.responder->remote_peer, PeerId::from_public_key(alice.public_key()));
        EXPECT_EQ(hs.responder->remote_key, alice.public_key());
        EXPECT_NE(hs.initiator->remote_peer, hs.responder->remote_peer);
        EXPECT_TRUE(hs.initiator->remote_peer.matches(bob.public_key()));
    });
}

TEST(NoiseSession, MuxerChosenInlineWhenBothOfferYamux) {
    auto alice = Ed25519KeyPair::generate();
    auto bob = Ed25519KeyPair::generate();
    run([&]() -> awaitable<void> {
        auto hs = co_await handshake(alice, yamux_only, bob, yamux_only, std::nullopt);
        KEEL_CO_ASSERT_OK(hs.initiator);
        KEEL_CO_ASSERT_OK(hs.responder);
        EXPECT_EQ(hs.initiator->muxer, std::optional<std::string>(yamux_protocol_id));
        EXPECT_EQ(hs.responder->muxer, std::optional<std::string>(yamux_protocol_id));

        // The initiator's order decides among several common muxers.
        std::vector<std::string> init_prefs{"/mplex/6.7.0", std::string(yamux_protocol_id)};
        std::vector<std::string> resp_prefs{std::string(yamux_protocol_id), "/mplex/6.7.0"};
        auto hs2 = co_await handshake(alice, init_prefs, bob, resp_prefs, std::nullopt);
        KEEL_CO_ASSERT_OK(hs2.initiator);
        KEEL_CO_ASSERT_OK(hs2.responder);
        EXPECT_EQ(hs2.initiator->muxer, std::optional<std::string>("/mplex/6.7.0"));
        EXPECT_EQ(hs2.responder->muxer, std::optional<std::string>("/mplex/6.7.0"));
    });
}

TEST(NoiseSession, NoInlineMuxerWhenOneSideOffersNone) {
    auto alice = Ed25519KeyPair::generate();
    auto bob = Ed25519KeyPair::generate();
    run([&]() -> awaitable<void> {
        auto hs = co_await handshake(alice, yamux_only, bob, no_muxers, std::nullopt);
        KEEL_CO_ASSERT_OK(hs.initiator);
        KEEL_CO_ASSERT_OK(hs.responder);
        EXPECT_EQ(hs.initiator->muxer, std::nullopt);
        EXPECT_EQ(hs.responder->muxer, std::nullopt);

        auto hs2 = co_await handshake(alice, no_muxers, bob, yamux_only, std::nullopt);
        KEEL_CO_ASSERT_OK(hs2.initiator);
        KEEL_CO_ASSERT_OK(hs2.responder);
        EXPECT_EQ(hs2.initiator->muxer, std::nullopt);
        EXPECT_EQ(hs2.responder->muxer, std::nullopt);
    });
}

TEST(NoiseSession, ExpectedPeerMismatchFails) {
    auto alice = Ed25519KeyPair::generate();
    auto bob = Ed25519KeyPair::generate();
    auto mallory = Ed25519KeyPair::generate();
    run([&]() -> awaitable<void> {
        std::optional<PeerId> expect_mallory = PeerId::from_public_key(mallory.public_key());
        auto hs = co_await handshake(alice, yamux_only, bob, yamux_only, expect_mallory);
        KEEL_CO_ASSERT(!hs.initiator);
        EXPECT_EQ(hs.initiator.error(), net_errc::peer_id_mismatch);
        // The initiator hung up before its third message; the responder must not succeed.
        KEEL_CO_ASSERT(!hs.responder);
        EXPECT_NE(hs.responder.error(), net_errc::timeout);
    });
}

TEST(NoiseSession, DataRoundTripThroughNoiseStream) {
    auto alice = Ed25519KeyPair::generate();
    auto bob = Ed25519KeyPair::generate();
    run([&]() -> awaitable<void> {
        std::shared_ptr<test::ProbeStream::Log> wire;
        auto hs = co_await handshake(alice, yamux_only, bob, yamux_only, std::nullopt, &wire);
        KEEL_CO_ASSERT_OK(hs.initiator);
        KEEL_CO_ASSERT_OK(hs.responder);
        auto& a = *hs.initiator->stream;
        auto& b = *hs.responder->stream;

        Bytes hello = to_bytes("hello through noise");
        KEEL_CO_ASSERT_NO_ERROR(co_await a.write_all(hello));
        Bytes got(hello.size());
        KEEL_CO_ASSERT_NO_ERROR(co_await with_deadline(read_exact(b, got), io_limit));
        EXPECT_EQ(got, hello);

        Bytes reply = to_bytes("and back");
        KEEL_CO_ASSERT_NO_ERROR(co_await b.write_all(reply));
        Bytes got_reply(reply.size());
        KEEL_CO_ASSERT_NO_ERROR(co_await with_deadline(read_exact(a, got_reply), io_limit));
        EXPECT_EQ(got_reply, reply);

        // 200 KiB in one write: split into frames of at most 65519 plaintext bytes.
        wire->written.clear();
        const std::size_t big_size = 200 * 1024;
        Bytes big = test::pattern(big_size, 9);
        KEEL_CO_ASSERT_NO_ERROR(co_await a.write_all(big));
        Bytes got_big(big_size);
        KEEL_CO_ASSERT_NO_ERROR(co_await with_deadline(read_exact(b, got_big), io_limit));
        EXPECT_TRUE(got_big == big);

        // On the wire: 2-byte big-endian lengths, full frames of 65535 and a 16-byte tag each.
        std::vector<std::size_t> frames;
        const Bytes& w = wire->written;
        for (std::size_t at = 0; at + 2 <= w.size();) {
            std::size_t len = std::size_t{w[at]} << 8 | w[at + 1];
            frames.push_back(len);
            at += 2 + len;
        }
        std::size_t full = noise_max_plaintext;
        EXPECT_EQ(full, 65519u);
        std::vector<std::size_t> expected{noise_frame_size, noise_frame_size, noise_frame_size,
                                          big_size - 3 * full + noise::tag_size};
        EXPECT_EQ(frames, expected);
        std::size_t framed_bytes = 0;
        for (auto f : frames) framed_bytes += 2 + f;
        EXPECT_EQ(framed_bytes, w.size());
        // Ciphertext, not plaintext: the pattern's first bytes do not appear at the frame start.
        KEEL_CO_ASSERT(w.size() > 18);
        EXPECT_FALSE(std::equal(big.begin(), big.begin() + 16, w.begin() + 2));

        // Half-close passes through: the reader sees eof after the data.
        KEEL_CO_ASSERT_NO_ERROR(co_await a.close_write());
        std::array<std::uint8_t, 8> buf{};
        auto eof = co_await with_deadline(b.read_some(buf), io_limit);
        KEEL_CO_ASSERT(!eof);
        EXPECT_EQ(eof.error(), asio::error::eof);
    });
}

// A NoiseStream decrypts the frames its transport holds whole without waiting (read_ready) and
// completes a frame cut anywhere (read_some): the plaintext is the same for every cut, and a
// frame too short for its tag fails the stream.
TEST(NoiseSession, FramesCutAnywhereDecryptTheSame) {
    noise::Key key{};
    key.fill(7);
    const std::vector<Bytes> messages{to_bytes("first"), Bytes{}, test::pattern(1000, 3)};
    Bytes wire;
    Bytes plaintext;
    noise::CipherState sender(key);
    for (const auto& m : messages) {
        Bytes frame(m.size() + noise::tag_size);
        auto n = sender.encrypt(m, frame);
        ASSERT_TRUE(n.has_value());
        wire.push_back(static_cast<std::uint8_t>(*n >> 8));
        wire.push_back(static_cast<std::uint8_t>(*n & 0xff));
        wire.insert(wire.end(), frame.begin(), frame.end());
        plaintext.insert(plaintext.end(), m.begin(), m.end());
    }
    for (std::size_t cut : {std::size_t{1}, std::size_t{2}, std::size_t{9}, wire.size()}) {
        SCOPED_TRACE(cut);
        run([&]() -> awaitable<void> {
            auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
            auto& to_reader = *pair.first;
            NoiseStream reader(std::move(pair.second), noise::CipherState{},
                               noise::CipherState(key));
            Bytes got(plaintext.size());
            std::size_t have = 0;
            for (std::size_t at = 0; at < wire.size(); at += cut) {
                std::size_t n = std::min(cut, wire.size() - at);
                KEEL_CO_ASSERT_NO_ERROR(
                    co_await to_reader.write_all(BytesView(wire).subspan(at, n)));
                while (std::size_t n = reader.read_ready(std::span(got).subspan(have))) have += n;
            }
            // Everything was written: all of it can be taken without waiting.
            EXPECT_EQ(have, plaintext.size());
            KEEL_CO_ASSERT_NO_ERROR(
                co_await with_deadline(read_exact(reader, std::span(got).subspan(have)), io_limit));
            EXPECT_TRUE(got == plaintext);
        });
    }
    run([&]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        NoiseStream reader(std::move(pair.second), noise::CipherState{}, noise::CipherState(key));
        const Bytes short_frame{0, 5, 1, 2, 3, 4, 5};
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(short_frame));
        std::array<std::uint8_t, 8> buf{};
        EXPECT_EQ(reader.read_ready(buf), 0u);
        auto n = co_await with_deadline(reader.read_some(buf), io_limit);
        KEEL_CO_ASSERT(!n);
        EXPECT_EQ(n.error(), net_errc::malformed_message);
    });
}

}  // namespace
}  // namespace keel::net
