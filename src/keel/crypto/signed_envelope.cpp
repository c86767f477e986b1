#include "keel/crypto/signed_envelope.hpp"

#include <keel/proto/envelope.pb.h>

#include "keel/base/varint.hpp"
#include "keel/crypto/crypto_errc.hpp"

namespace keel {
namespace {

// What is signed: each of domain, type and payload prefixed with its uvarint length.
Bytes signed_bytes(std::string_view domain, BytesView payload_type, BytesView payload) {
    Bytes out;
    out.reserve(domain.size() + payload_type.size() + payload.size() + 12);
    append_uvarint(out, domain.size());
    out.insert(out.end(), domain.begin(), domain.end());
    append_uvarint(out, payload_type.size());
    out.insert(out.end(), payload_type.begin(), payload_type.end());
    append_uvarint(out, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

}  // namespace

Bytes seal_envelope(const Ed25519KeyPair& signer, std::string_view domain, BytesView payload_type,
                    BytesView payload) {
    pb::Envelope envelope;
    envelope.set_public_key(std::string(as_chars(signer.public_key().marshal())));
    envelope.set_payload_type(std::string(as_chars(payload_type)));
    envelope.set_payload(std::string(as_chars(payload)));
    envelope.set_signature(
        std::string(as_chars(signer.sign(signed_bytes(domain, payload_type, payload)))));
    auto text = envelope.SerializeAsString();
    return Bytes(text.begin(), text.end());
}

boost::system::result<SignedEnvelope> open_envelope(BytesView bytes, std::string_view domain) {
    if (bytes.size() > SignedEnvelope::max_size) return make_error_code(crypto_errc::invalid_key);
    pb::Envelope envelope;
    if (!envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return make_error_code(crypto_errc::invalid_key);
    auto key = PublicKey::unmarshal(as_bytes(envelope.public_key()));
    if (!key) return key.error();
    SignedEnvelope out{*key, Bytes(envelope.payload_type().begin(), envelope.payload_type().end()),
                       Bytes(envelope.payload().begin(), envelope.payload().end())};
    if (!out.key.verify(signed_bytes(domain, out.payload_type, out.payload),
                        as_bytes(envelope.signature())))
        return make_error_code(crypto_errc::bad_signature);
    return out;
}

}  // namespace keel
