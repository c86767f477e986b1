#pragma once
// This node's side of every Noise handshake: a Noise static key and the handshake payload that
// binds it to the libp2p identity (the identity key, a signature over the static key, the muxers
// offered). Made once per Host and used for every connection: the noise spec lets the static key
// live as long as the identity (rust-libp2p keeps one per transport too), and making it per
// handshake cost an X25519 key generation, an Ed25519 signature and a protobuf encoding on every
// connection, a fifth of a bootstrap's CPU per connection. Forward secrecy comes from the
// ephemeral keys, which stay fresh per handshake.
#include <string>
#include <vector>

#include "keel/base/bytes.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/noise/key_pair.hpp"

namespace keel::net {

class NoiseIdentity {
  public:
    // A fresh static key, signed by `identity`; `muxers` go in the payload's stream_muxers
    // extension (empty: none offered).
    NoiseIdentity(const Ed25519KeyPair& identity, std::vector<std::string> muxers);

    const noise::KeyPair& static_keys() const { return static_keys_; }
    const Bytes& payload() const { return payload_; }
    const std::vector<std::string>& muxers() const { return muxers_; }

  private:
    noise::KeyPair static_keys_;
    std::vector<std::string> muxers_;
    Bytes payload_;
};

// The message the identity signs: "noise-libp2p-static-key:" + the static public key.
Bytes noise_signed_static_key_message(BytesView static_key);

}  // namespace keel::net
