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
    const Ed25519KeyPair* identity = nullptr;
    bool inline_muxer = true;  // offer the muxer inside the Noise handshake
    net::YamuxConfig yamux;
};

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
