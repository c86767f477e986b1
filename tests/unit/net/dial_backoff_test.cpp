// The Host's one memory of failed dials: how long background dialers stay off a peer.
#include "keel/host/dial_backoff.hpp"

#include <gtest/gtest.h>

#include "keel/crypto/ed25519.hpp"

namespace keel {
namespace {

using namespace std::chrono_literals;

PeerId some_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

TEST(DialBackoff, EachFailureAfterAWaitDoublesTheNextUpToTheMax) {
    DialBackoff backoff({1s, 5s, 100});
    auto peer = some_peer();
    auto t = net::Clock::now();
    EXPECT_FALSE(backoff.waiting(peer, t));
    backoff.failed(peer, t);  // waits 1 s
    EXPECT_TRUE(backoff.waiting(peer, t + 999ms));
    EXPECT_FALSE(backoff.waiting(peer, t + 1s));
    t += 1s;
    backoff.failed(peer, t);  // 2 s
    EXPECT_TRUE(backoff.waiting(peer, t + 1999ms));
    EXPECT_FALSE(backoff.waiting(peer, t + 2s));
    t += 2s;
    backoff.failed(peer, t);  // 4 s
    t += 4s;
    backoff.failed(peer, t);  // 8 s, capped at 5 s
    EXPECT_TRUE(backoff.waiting(peer, t + 4999ms));
    EXPECT_FALSE(backoff.waiting(peer, t + 5s));
}

TEST(DialBackoff, FailuresDuringAWaitAreTheSameAttempt) {
    DialBackoff backoff({1s, 60s, 100});
    auto peer = some_peer();
    auto t = net::Clock::now();
    backoff.failed(peer, t);
    backoff.failed(peer, t + 10ms);  // another address of the same attempt
    backoff.failed(peer, t + 20ms);  // the DHT reporting the attempt the Host reported
    EXPECT_FALSE(backoff.waiting(peer, t + 1s));
}

TEST(DialBackoff, AConnectionForgetsTheFailures) {
    DialBackoff backoff({1s, 60s, 100});
    auto peer = some_peer();
    auto other = some_peer();
    auto t = net::Clock::now();
    backoff.failed(peer, t);
    backoff.failed(other, t);
    backoff.connected(peer);
    EXPECT_FALSE(backoff.waiting(peer, t));
    EXPECT_TRUE(backoff.waiting(other, t));
    t += 1s;
    backoff.failed(peer, t);  // starts again at 1 s
    EXPECT_FALSE(backoff.waiting(peer, t + 1s));
}

TEST(DialBackoff, PastItsSizePeersWhoseWaitIsOverAreForgotten) {
    DialBackoff backoff({1s, 60s, 10});
    auto t = net::Clock::now();
    for (int i = 0; i < 10; ++i) backoff.failed(some_peer(), t);
    EXPECT_EQ(backoff.size(), 10u);
    backoff.failed(some_peer(), t + 2s);  // the ten have waited out their second
    EXPECT_EQ(backoff.size(), 1u);
}

}  // namespace
}  // namespace keel
