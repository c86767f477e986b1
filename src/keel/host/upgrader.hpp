#pragma once
// Turns a raw TCP stream into a secured, multiplexed connection: multistream "/noise", the Noise
// XX handshake, then Yamux (inlined in the handshake when both sides offer it, otherwise through
// multistream). The caller bounds the whole upgrade with a deadline and reads `phase` to learn
// where it stopped.
#include "keel/crypto/ed25519.hpp"
#include "keel/host/failure.hpp"
#include "keel/net/noise_session.hpp"
#include "keel/net/yamux_session.hpp"

namespace keel {

struct UpgradeConfig {
    // Our Noise static key and payload, which offers Yamux inside the handshake or not
    // (make_noise_identity); shared by every upgrade of a Host.
    std::shared_ptr<const net::NoiseIdentity> noise;
    net::YamuxConfig yamux;
};

// The Noise identity of a Host: `inline_muxer` offers Yamux inside the Noise handshake.
std::shared_ptr<const net::NoiseIdentity> make_noise_identity(const Ed25519KeyPair& identity,
                                                              bool inline_muxer);

struct Upgraded {
    PeerId peer;
    PublicKey key;
    std::shared_ptr<net::YamuxSession> session;
    std::string muxer;
    bool muxer_inlined = false;
};

// `phase` is updated as the upgrade moves on, so that on timeout the caller knows the phase.
net::awaitable<net::result<Upgraded>> upgrade_connection(std::unique_ptr<net::ByteStream> raw,
                                                         bool initiator,
                                                         const UpgradeConfig& config,
                                                         std::optional<PeerId> expected_peer,
                                                         Phase& phase);

}  // namespace keel
