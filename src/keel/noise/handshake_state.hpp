#pragma once
// Noise HandshakeState (spec 5.3) for exactly Noise_XX_25519_ChaChaPoly_SHA256:
//   -> e
//   <- e, ee, s, es
//   -> s, se
// Pure message transformation, no I/O: the caller frames and transports the bytes.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"
#include "keel/noise/cipher_state.hpp"
#include "keel/noise/key_pair.hpp"
#include "keel/noise/symmetric_state.hpp"

namespace keel::noise {

inline constexpr std::string_view protocol_name = "Noise_XX_25519_ChaChaPoly_SHA256";

enum class Role { initiator, responder };

class HandshakeState {
  public:
    // fixed_ephemeral is for test vectors only; otherwise a fresh ephemeral is generated.
    HandshakeState(Role role, BytesView prologue, KeyPair static_keys,
                   std::optional<KeyPair> fixed_ephemeral = std::nullopt);
    // Movable so it can live in an optional or a session object; not copyable, since two copies
    // would derive the same transport keys and reuse nonces.
    HandshakeState(HandshakeState&&) = default;
    HandshakeState& operator=(HandshakeState&&) = default;
    HandshakeState(const HandshakeState&) = delete;
    HandshakeState& operator=(const HandshakeState&) = delete;
    ~HandshakeState();

    // Any error other than handshake_out_of_order and a length error (checked before anything
    // changes) leaves the state unusable: later calls fail with handshake_out_of_order.
    boost::system::result<Bytes> write_message(BytesView payload);
    boost::system::result<Bytes> read_message(BytesView message);  // returns the payload

    Role role() const { return role_; }
    bool is_my_turn() const;
    bool complete() const { return step_ == 3 && !failed_; }

    // Known after the message that carries it: message 2 for the initiator, 3 for the responder.
    const std::optional<Key>& remote_static() const { return remote_static_; }
    // h; binds the whole handshake (channel binding). Final once complete().
    std::array<std::uint8_t, 32> handshake_hash() const { return symmetric_.handshake_hash(); }

    struct Split {
        CipherState send;
        CipherState receive;
    };
    // Transport ciphers oriented for this role. Only once complete(); a second call fails with
    // handshake_out_of_order, since two copies of the same keys would reuse nonces.
    boost::system::result<Split> split();

  private:
    Role role_;
    SymmetricState symmetric_;
    KeyPair s_;
    std::optional<KeyPair> e_;
    std::optional<Key> remote_static_;
    std::optional<Key> remote_ephemeral_;
    int step_ = 0;  // index of the next message: 0, 1, 2; 3 when complete
    bool failed_ = false;
    bool split_done_ = false;
};

}  // namespace keel::noise
