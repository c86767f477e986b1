#pragma once
// The remote side of the Noise fuzz targets (fuzz_noise_*.cpp) and of their seeds
// (make_corpus.cpp): fixed keys, so a seed's signed payload stays valid for every run, and the
// transport of fuzzer-chosen plaintext through a real HandshakeState, so the fuzzer's bytes reach
// the code after decryption (the payload and its extensions) as well as the framing before it.
#include <array>
#include <string>
#include <vector>

#include <keel/proto/noise.pb.h>

#include "keel/crypto/ed25519.hpp"
#include "keel/net/noise_session.hpp"
#include "keel/noise/handshake_state.hpp"
#include "keel/noise/key_pair.hpp"

namespace keel::fuzz {

// The remote's libp2p identity and its Noise static and ephemeral keys.
inline const Ed25519KeyPair& remote_identity() {
    static const Ed25519KeyPair key = Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{42});
    return key;
}
inline noise::KeyPair remote_static_keys() {
    return noise::KeyPair::from_private(std::array<std::uint8_t, 32>{1, 2, 3});
}
inline noise::KeyPair remote_ephemeral_keys() {
    return noise::KeyPair::from_private(std::array<std::uint8_t, 32>{4, 5, 6});
}
// Keel's side of every Noise target.
inline const Ed25519KeyPair& local_identity() {
    static const Ed25519KeyPair key = Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{9});
    return key;
}
inline const std::vector<std::string>& local_muxers() {
    static const std::vector<std::string> muxers{"/yamux/1.0.0", "/mplex/6.7.0"};
    return muxers;
}

inline noise::HandshakeState remote_handshake(noise::Role role) {
    return noise::HandshakeState(role, {}, remote_static_keys(), remote_ephemeral_keys());
}

// A valid handshake payload from the remote: its identity key, its signature over its static key,
// and the muxers of its extensions.
inline Bytes remote_payload(const std::vector<std::string>& muxers) {
    pb::NoiseHandshakePayload payload;
    auto key = remote_identity().public_key().marshal();
    payload.set_identity_key(key.data(), key.size());
    Bytes signed_message = to_bytes(net::noise_signature_prefix);
    auto s = remote_static_keys().public_key;
    signed_message.insert(signed_message.end(), s.begin(), s.end());
    auto sig = remote_identity().sign(signed_message);
    payload.set_identity_sig(sig.data(), sig.size());
    for (const auto& m : muxers) payload.mutable_extensions()->add_stream_muxers(m);
    return to_bytes(payload.SerializeAsString());
}

// The 2-byte big-endian length prefix of Noise handshake and transport messages.
inline Bytes noise_framed(BytesView message) {
    Bytes out{static_cast<std::uint8_t>(message.size() >> 8),
              static_cast<std::uint8_t>(message.size() & 0xff)};
    out.insert(out.end(), message.begin(), message.end());
    return out;
}

}  // namespace keel::fuzz
