#pragma once
// Noise SymmetricState (spec 5.2): chaining key ck, handshake hash h and the handshake cipher.
// Internal to the handshake, but public so it can be tested on its own.
#include <string_view>
#include <utility>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"
#include "keel/noise/cipher_state.hpp"
#include "keel/noise/key_pair.hpp"

namespace keel::noise {

class SymmetricState {
  public:
    explicit SymmetricState(std::string_view protocol_name);
    SymmetricState(const SymmetricState&) = default;
    SymmetricState& operator=(const SymmetricState&) = default;
    ~SymmetricState();

    void mix_key(BytesView input_key_material);
    void mix_hash(BytesView data);

    // Append the (encrypted, if a key is set) data to out and mix the ciphertext into h.
    boost::system::result<void> encrypt_and_hash(BytesView plaintext, Bytes& out);
    boost::system::result<void> decrypt_and_hash(BytesView ciphertext, Bytes& out);
    // Bytes encrypt_and_hash adds to n bytes of plaintext at this point of the handshake.
    std::size_t encrypted_size(std::size_t n) const;

    const Key& handshake_hash() const { return h_; }
    // Two transport ciphers: the first for initiator-to-responder, the second for the reverse.
    // Wipes ck, so it can only be done once.
    std::pair<CipherState, CipherState> split();

  private:
    Key ck_{};
    Key h_{};
    CipherState cipher_;
};

}  // namespace keel::noise
