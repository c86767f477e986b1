#pragma once
// Noise CipherState (spec 5.1): a ChaCha20-Poly1305 key and a 64-bit message counter. During the
// handshake it lives inside SymmetricState; split() hands out two of them for transport.
#include <cstdint>
#include <span>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"
#include "keel/noise/key_pair.hpp"

namespace keel::noise {

class CipherState {
  public:
    CipherState() = default;  // no key: encryption passes plaintext through, as the spec says
    explicit CipherState(const Key& key) { initialize_key(key); }
    CipherState(const CipherState&) = default;
    CipherState& operator=(const CipherState&) = default;
    ~CipherState();

    void initialize_key(const Key& key);
    bool has_key() const { return has_key_; }
    std::uint64_t nonce() const { return nonce_; }
    // SetNonce (spec 5.1), for out-of-order transports and tests; reusing a nonce is fatal.
    void set_nonce(std::uint64_t n) { nonce_ = n; }

    boost::system::result<Bytes> encrypt_with_ad(BytesView ad, BytesView plaintext);
    boost::system::result<Bytes> decrypt_with_ad(BytesView ad, BytesView ciphertext);

    // Allocation-free variants for the transport hot path, with empty associated data. out must
    // have room for plaintext+16 (resp. ciphertext-16); it may be the very same buffer as the
    // input (in place) but must not overlap it otherwise. Return the bytes written.
    boost::system::result<std::size_t> encrypt(BytesView plaintext, std::span<std::uint8_t> out);
    boost::system::result<std::size_t> decrypt(BytesView ciphertext, std::span<std::uint8_t> out);

    // Same, with associated data; SymmetricState uses these with h as ad.
    boost::system::result<std::size_t> encrypt_with_ad(BytesView ad, BytesView plaintext,
                                                       std::span<std::uint8_t> out);
    boost::system::result<std::size_t> decrypt_with_ad(BytesView ad, BytesView ciphertext,
                                                       std::span<std::uint8_t> out);

    // REKEY (spec 4.2): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros). The nonce is kept.
    void rekey();

  private:
    Key key_{};
    std::uint64_t nonce_ = 0;
    bool has_key_ = false;
};

}  // namespace keel::noise
