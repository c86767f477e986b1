#include "keel/noise/symmetric_state.hpp"

#include <algorithm>

#include <sodium.h>

#include "keel/noise/constants.hpp"
#include "keel/noise/noise_errc.hpp"

namespace keel::noise {
namespace {

static_assert(crypto_hash_sha256_BYTES == hash_size);
static_assert(crypto_auth_hmacsha256_BYTES == hash_size);

Key hmac(const Key& key, BytesView a, BytesView b = {}) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key.data(), key.size());
    crypto_auth_hmacsha256_update(&st, a.data(), a.size());
    crypto_auth_hmacsha256_update(&st, b.data(), b.size());
    Key out;
    crypto_auth_hmacsha256_final(&st, out.data());
    sodium_memzero(&st, sizeof st);
    return out;
}

// HKDF as the Noise spec defines it (4.3), with two outputs, which is all XX needs.
void hkdf2(const Key& chaining_key, BytesView ikm, Key& out1, Key& out2) {
    static constexpr std::uint8_t one[] = {0x01};
    static constexpr std::uint8_t two[] = {0x02};
    Key temp = hmac(chaining_key, ikm);
    out1 = hmac(temp, one);
    out2 = hmac(temp, out1, two);
    sodium_memzero(temp.data(), temp.size());
}

}  // namespace

SymmetricState::SymmetricState(std::string_view protocol_name) {
    // Names up to HASHLEN are zero-padded into h, longer ones hashed (spec 5.2).
    if (protocol_name.size() <= h_.size()) {
        std::copy(protocol_name.begin(), protocol_name.end(), h_.begin());
    } else {
        auto name = as_bytes(protocol_name);
        crypto_hash_sha256(h_.data(), name.data(), name.size());
    }
    ck_ = h_;
}

SymmetricState::~SymmetricState() {
    sodium_memzero(ck_.data(), ck_.size());
    sodium_memzero(h_.data(), h_.size());
}

void SymmetricState::mix_key(BytesView input_key_material) {
    Key temp_k;
    hkdf2(ck_, input_key_material, ck_, temp_k);  // hkdf2 reads ck_ before overwriting it
    cipher_.initialize_key(temp_k);
    sodium_memzero(temp_k.data(), temp_k.size());
}

void SymmetricState::mix_hash(BytesView data) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, h_.data(), h_.size());
    crypto_hash_sha256_update(&st, data.data(), data.size());
    crypto_hash_sha256_final(&st, h_.data());
}

std::size_t SymmetricState::encrypted_size(std::size_t n) const {
    return n + (cipher_.has_key() ? tag_size : 0);
}

boost::system::result<void> SymmetricState::encrypt_and_hash(BytesView plaintext, Bytes& out) {
    std::size_t start = out.size();
    out.resize(start + encrypted_size(plaintext.size()));
    std::span<std::uint8_t> dest(out.data() + start, out.size() - start);
    auto n = cipher_.encrypt_with_ad(h_, plaintext, dest);
    if (!n) {
        out.resize(start);
        return n.error();
    }
    mix_hash(dest.first(*n));
    return {};
}

boost::system::result<void> SymmetricState::decrypt_and_hash(BytesView ciphertext, Bytes& out) {
    std::size_t overhead = cipher_.has_key() ? tag_size : 0;
    if (ciphertext.size() < overhead) return make_error_code(noise_errc::message_too_short);
    std::size_t start = out.size();
    out.resize(start + ciphertext.size() - overhead);
    std::span<std::uint8_t> dest(out.data() + start, out.size() - start);
    auto n = cipher_.decrypt_with_ad(h_, ciphertext, dest);
    if (!n) {
        out.resize(start);
        return n.error();
    }
    mix_hash(ciphertext);  // h absorbs the ciphertext, after it was used as associated data
    return {};
}

std::pair<CipherState, CipherState> SymmetricState::split() {
    Key k1, k2;
    hkdf2(ck_, {}, k1, k2);
    std::pair<CipherState, CipherState> ciphers{CipherState(k1), CipherState(k2)};
    sodium_memzero(k1.data(), k1.size());
    sodium_memzero(k2.data(), k2.size());
    sodium_memzero(ck_.data(), ck_.size());
    return ciphers;
}

}  // namespace keel::noise
