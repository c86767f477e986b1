#include "keel/net/noise_identity.hpp"

#include <keel/proto/noise.pb.h>

#include "keel/net/noise_session.hpp"

namespace keel::net {

Bytes noise_signed_static_key_message(BytesView static_key) {
    Bytes message = to_bytes(noise_signature_prefix);
    message.insert(message.end(), static_key.begin(), static_key.end());
    return message;
}

NoiseIdentity::NoiseIdentity(const Ed25519KeyPair& identity, std::vector<std::string> muxers)
    : static_keys_(noise::KeyPair::generate()), muxers_(std::move(muxers)) {
    pb::NoiseHandshakePayload payload;
    auto key = identity.public_key().marshal();
    payload.set_identity_key(key.data(), key.size());
    auto sig = identity.sign(noise_signed_static_key_message(static_keys_.public_key));
    payload.set_identity_sig(sig.data(), sig.size());
    for (const auto& m : muxers_) payload.mutable_extensions()->add_stream_muxers(m);
    payload_ = to_bytes(payload.SerializeAsString());
}

}  // namespace keel::net
