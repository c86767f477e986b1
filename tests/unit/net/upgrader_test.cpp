#include "keel/host/upgrader.hpp"

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/net/deadline.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/multistream.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel {
namespace {

using namespace boost::asio::experimental::awaitable_operators;
using net::awaitable;
using net::test::run;

constexpr net::Duration io_limit{5000};

UpgradeConfig config_for(const Ed25519KeyPair& identity) {
    UpgradeConfig config;
    config.noise = make_noise_identity(identity, true);
    return config;
}

struct Side {
    std::unique_ptr<net::ByteStream> raw;
    std::shared_ptr<net::test::ProbeStream::Log> log;
};

Side probed(std::unique_ptr<net::ByteStream> raw) {
    auto probe = std::make_unique<net::test::ProbeStream>(std::move(raw));
    auto log = probe->log();
    return Side{std::move(probe), std::move(log)};
}

awaitable<net::result<Upgraded>> upgrade(std::unique_ptr<net::ByteStream> raw, bool initiator,
                                         UpgradeConfig config, std::optional<PeerId> expected) {
    Phase phase = Phase::dial;
    co_return co_await upgrade_connection(std::move(raw), initiator, config, std::move(expected),
                                          phase);
}

// A Keel dialer proposes Noise alone, so it sends the proposal with Noise message 1 and its
// listener answers together with message 2: two writes from the dialer (message 1, message 3),
// one from the listener, a round trip less than proposing and waiting for the answer.
TEST(Upgrader, ProposalTravelsWithMessage1AndTheAnswerWithMessage2) {
    run([]() -> awaitable<void> {
        auto dialer_id = Ed25519KeyPair::generate();
        auto listener_id = Ed25519KeyPair::generate();
        auto pair = net::make_memory_stream_pair(co_await net::asio::this_coro::executor);
        auto dialer = probed(std::move(pair.first));
        auto listener = probed(std::move(pair.second));
        std::optional<PeerId> expected = PeerId::from_public_key(listener_id.public_key());
        std::optional<PeerId> none;
        auto both = co_await (
            net::with_deadline(
                upgrade(std::move(dialer.raw), true, config_for(dialer_id), expected), io_limit) &&
            net::with_deadline(
                upgrade(std::move(listener.raw), false, config_for(listener_id), none), io_limit));
        KEEL_CO_ASSERT_OK(std::get<0>(both));
        KEEL_CO_ASSERT_OK(std::get<1>(both));
        EXPECT_EQ(std::get<0>(both)->peer, *expected);
        EXPECT_TRUE(std::get<0>(both)->muxer_inlined);

        Bytes proposal = net::multistream_lazy(std::string(net::noise_protocol_id)).send;
        EXPECT_EQ(dialer.log->writes, 2u);
        KEEL_CO_ASSERT(dialer.log->written.size() > proposal.size() + 2 + 32);
        EXPECT_TRUE(std::equal(proposal.begin(), proposal.end(), dialer.log->written.begin()));
        // Message 1 right behind it: a 2-byte length of 32, the initiator's ephemeral key.
        EXPECT_EQ(dialer.log->written[proposal.size()], 0);
        EXPECT_EQ(dialer.log->written[proposal.size() + 1], 32);

        EXPECT_EQ(listener.log->writes, 1u);
        EXPECT_TRUE(std::equal(proposal.begin(), proposal.end(), listener.log->written.begin()));
    });
}

// A dialer that waits for the answer before its first Noise message (go-libp2p dials so) gets it
// at once, and the handshake goes on as usual.
TEST(Upgrader, ListenerAnswersADialerThatWaitsForTheAnswer) {
    run([]() -> awaitable<void> {
        auto dialer_id = Ed25519KeyPair::generate();
        auto listener_id = Ed25519KeyPair::generate();
        auto pair = net::make_memory_stream_pair(co_await net::asio::this_coro::executor);
        auto listener = probed(std::move(pair.second));
        auto dialer_identity = config_for(dialer_id).noise;
        auto patient_dialer = [](std::unique_ptr<net::ByteStream> raw,
                                 std::shared_ptr<const net::NoiseIdentity> identity)
            -> awaitable<net::result<net::SecuredConnection>> {
            std::vector<std::string> noise_only{std::string(net::noise_protocol_id)};
            auto chosen = co_await net::multistream_select(*raw, noise_only);
            if (!chosen) co_return chosen.error();
            std::optional<PeerId> any;
            co_return co_await net::noise_secure(std::move(raw), noise::Role::initiator, *identity,
                                                 any);
        };
        std::optional<PeerId> none;
        auto both = co_await (
            net::with_deadline(patient_dialer(std::move(pair.first), dialer_identity), io_limit) &&
            net::with_deadline(
                upgrade(std::move(listener.raw), false, config_for(listener_id), none), io_limit));
        KEEL_CO_ASSERT_OK(std::get<0>(both));
        KEEL_CO_ASSERT_OK(std::get<1>(both));
        EXPECT_EQ(std::get<1>(both)->peer, PeerId::from_public_key(dialer_id.public_key()));
        EXPECT_EQ(listener.log->writes, 2u);  // the answer at once, then message 2
    });
}

// A listener without Noise answers "na" to the proposal: the dialer fails with
// protocol_not_supported, not with a garbled handshake.
TEST(Upgrader, DialerFailsWithProtocolNotSupportedWhenTheListenerRefusesNoise) {
    run([]() -> awaitable<void> {
        auto dialer_id = Ed25519KeyPair::generate();
        auto pair = net::make_memory_stream_pair(co_await net::asio::this_coro::executor);
        auto tls_only = [](std::string_view p) { return p == "/tls/1.0.0"; };
        std::optional<PeerId> any;
        auto both = co_await (
            net::with_deadline(upgrade(std::move(pair.first), true, config_for(dialer_id), any),
                               io_limit) &&
            net::with_deadline(net::multistream_handle(*pair.second, tls_only), io_limit));
        KEEL_CO_ASSERT(!std::get<0>(both));
        EXPECT_EQ(std::get<0>(both).error(), net::net_errc::protocol_not_supported);
        KEEL_CO_ASSERT(!std::get<1>(both));  // the Noise message is no multistream message
    });
}

}  // namespace
}  // namespace keel
