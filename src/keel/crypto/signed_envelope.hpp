#pragma once
// Signed envelopes (libp2p/specs RFC 0002): a typed payload signed for one domain, so that a
// signature made for one purpose (a relay voucher, a peer record) cannot be replayed for another.
#include <string_view>

#include <boost/system/result.hpp>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/keys.hpp"

namespace keel {

struct SignedEnvelope {
    PublicKey key;
    Bytes payload_type;  // a multicodec, as uvarint bytes
    Bytes payload;

    static constexpr std::size_t max_size = 8192;
};

Bytes seal_envelope(const Ed25519KeyPair& signer, std::string_view domain, BytesView payload_type,
                    BytesView payload);
// Bounded (SignedEnvelope::max_size); checks the signature for `domain`.
boost::system::result<SignedEnvelope> open_envelope(BytesView bytes, std::string_view domain);

}  // namespace keel
