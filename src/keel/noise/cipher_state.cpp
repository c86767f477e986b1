#include "keel/noise/cipher_state.hpp"

#include <cstring>
#include <limits>

#include <sodium.h>

#include "keel/noise/constants.hpp"
#include "keel/noise/noise_errc.hpp"

namespace keel::noise {
namespace {

static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == tag_size);
static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == key_size);
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);

// 2^64-1 is reserved by the spec (it is the REKEY nonce), so it is never used for a message.
constexpr std::uint64_t max_nonce = std::numeric_limits<std::uint64_t>::max();

// ChaChaPoly nonce encoding (spec 12.3): 32 bits of zeros, then the counter little-endian.
std::array<std::uint8_t, 12> encode_nonce(std::uint64_t n) {
    std::array<std::uint8_t, 12> out{};
    for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    return out;
}

}  // namespace

CipherState::~CipherState() {
    sodium_memzero(key_.data(), key_.size());
}

void CipherState::initialize_key(const Key& key) {
    key_ = key;
    nonce_ = 0;
    has_key_ = true;
}

boost::system::result<std::size_t> CipherState::encrypt_with_ad(BytesView ad, BytesView plaintext,
                                                                std::span<std::uint8_t> out) {
    std::size_t overhead = has_key_ ? tag_size : 0;
    if (plaintext.size() + overhead > max_message_size) {
        return make_error_code(noise_errc::message_too_long);
    }
    if (out.size() < plaintext.size() + overhead) {
        return make_error_code(noise_errc::message_too_long);
    }
    if (!has_key_) {  // spec: EncryptWithAd returns the plaintext when k is empty
        if (!plaintext.empty()) std::memmove(out.data(), plaintext.data(), plaintext.size());
        return plaintext.size();
    }
    if (nonce_ == max_nonce) return make_error_code(noise_errc::nonce_exhausted);
    auto nonce = encode_nonce(nonce_);
    unsigned long long written = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &written, plaintext.data(),
                                              plaintext.size(), ad.data(), ad.size(), nullptr,
                                              nonce.data(), key_.data());
    ++nonce_;
    return static_cast<std::size_t>(written);
}

boost::system::result<std::size_t> CipherState::decrypt_with_ad(BytesView ad, BytesView ciphertext,
                                                                std::span<std::uint8_t> out) {
    if (ciphertext.size() > max_message_size) return make_error_code(noise_errc::message_too_long);
    if (!has_key_) {
        if (out.size() < ciphertext.size()) return make_error_code(noise_errc::message_too_long);
        if (!ciphertext.empty()) std::memmove(out.data(), ciphertext.data(), ciphertext.size());
        return ciphertext.size();
    }
    if (ciphertext.size() < tag_size) return make_error_code(noise_errc::message_too_short);
    if (out.size() < ciphertext.size() - tag_size) {
        return make_error_code(noise_errc::message_too_long);
    }
    if (nonce_ == max_nonce) return make_error_code(noise_errc::nonce_exhausted);
    auto nonce = encode_nonce(nonce_);
    unsigned long long written = 0;
    // libsodium checks the tag before decrypting, so on failure nothing is released; the nonce
    // stays put, as the spec requires.
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &written, nullptr, ciphertext.data(),
                                                  ciphertext.size(), ad.data(), ad.size(),
                                                  nonce.data(), key_.data()) != 0) {
        return make_error_code(noise_errc::decrypt_failed);
    }
    ++nonce_;
    return static_cast<std::size_t>(written);
}

boost::system::result<std::size_t> CipherState::encrypt(BytesView plaintext,
                                                        std::span<std::uint8_t> out) {
    return encrypt_with_ad({}, plaintext, out);
}

boost::system::result<std::size_t> CipherState::decrypt(BytesView ciphertext,
                                                        std::span<std::uint8_t> out) {
    return decrypt_with_ad({}, ciphertext, out);
}

boost::system::result<Bytes> CipherState::encrypt_with_ad(BytesView ad, BytesView plaintext) {
    Bytes out(plaintext.size() + (has_key_ ? tag_size : 0));
    auto n = encrypt_with_ad(ad, plaintext, out);
    if (!n) return n.error();
    out.resize(*n);
    return out;
}

boost::system::result<Bytes> CipherState::decrypt_with_ad(BytesView ad, BytesView ciphertext) {
    std::size_t overhead = has_key_ ? tag_size : 0;
    Bytes out(ciphertext.size() >= overhead ? ciphertext.size() - overhead : 0);
    auto n = decrypt_with_ad(ad, ciphertext, out);
    if (!n) return n.error();
    out.resize(*n);
    return out;
}

void CipherState::rekey() {
    if (!has_key_) return;
    std::array<std::uint8_t, key_size + tag_size> buf{};  // encrypts 32 zero bytes in place
    auto nonce = encode_nonce(max_nonce);
    unsigned long long written = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(buf.data(), &written, buf.data(), key_size, nullptr,
                                              0, nullptr, nonce.data(), key_.data());
    std::copy(buf.begin(), buf.begin() + key_size, key_.begin());
    sodium_memzero(buf.data(), buf.size());
}

}  // namespace keel::noise
