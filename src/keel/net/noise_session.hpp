#pragma once
// libp2p's Noise security handshake (libp2p/specs noise/README.md) and the encrypted stream after
// it. XX pattern; each side's handshake payload carries its libp2p identity key and a signature
// over its Noise static key, binding the two. The stream_muxers extension inlines the muxer choice
// (connections/inlined-muxer-negotiation.md): the first of the initiator's muxers that the
// responder offered wins; when either side offers none, multistream-select picks the muxer later.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/net/byte_stream.hpp"
#include "keel/net/noise_identity.hpp"
#include "keel/noise/cipher_state.hpp"
#include "keel/noise/constants.hpp"
#include "keel/noise/handshake_state.hpp"

namespace keel::net {

inline constexpr std::string_view noise_protocol_id = "/noise";
inline constexpr std::string_view noise_signature_prefix = "noise-libp2p-static-key:";
// Handshake messages carry a key, a signature and a few muxer names; even an RSA-4096 identity
// fits in 4 KiB, so a larger length prefix is refused before anything is read.
inline constexpr std::size_t max_noise_handshake_message = 4096;
inline constexpr std::size_t noise_frame_size = 65535;  // the 2-byte length prefix allows no more
inline constexpr std::size_t noise_max_plaintext = noise_frame_size - noise::tag_size;

struct SecuredConnection {
    std::unique_ptr<ByteStream> stream;
    PeerId remote_peer;
    PublicKey remote_key;
    std::optional<std::string> muxer;  // chosen in the handshake, if both sides offered
};

// `ours` must outlive the handshake (a Host's lives as long as the Host). `preamble` is the
// multistream-select around it when negotiated lazily (multistream.hpp): an initiator's proposal
// goes with message 1 and its answer is read before message 2; a responder's held answer goes
// with message 2. A round trip less for the dialer, a segment less for the listener.
awaitable<result<SecuredConnection>> noise_secure(std::unique_ptr<ByteStream> raw, noise::Role role,
                                                  const NoiseIdentity& ours,
                                                  std::optional<PeerId> expected_peer,
                                                  Preamble preamble = {});
// With a static key made for this handshake alone (tests, fuzzing, one-off tools).
awaitable<result<SecuredConnection>> noise_secure(std::unique_ptr<ByteStream> raw, noise::Role role,
                                                  const Ed25519KeyPair& identity,
                                                  std::vector<std::string> muxers,
                                                  std::optional<PeerId> expected_peer);

// The transport phase: every frame is a 2-byte big-endian length and one ChaChaPoly ciphertext.
class NoiseStream final : public ByteStream {
  public:
    NoiseStream(std::unique_ptr<ByteStream> inner, noise::CipherState send,
                noise::CipherState receive);

    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override;
    awaitable<error_code> write_all(BytesView data) override;
    awaitable<error_code> close_write() override { return inner_->close_write(); }
    void reset() override { inner_->reset(); }
    asio::any_io_executor get_executor() override { return inner_->get_executor(); }
    std::size_t ready_to_read() const override { return plaintext_.size() - plaintext_pos_; }
    // Decrypts the frames already whole in the transport's buffer first.
    std::size_t read_ready(std::span<std::uint8_t> buffer) override;

  private:
    // Takes what the transport holds without waiting and decrypts each frame it completes,
    // until there is plaintext; a frame's beginning stays here for read_some to complete.
    error_code decrypt_ready();
    error_code start_frame();    // the length prefix is in: frame_ gets its size
    error_code decrypt_frame();  // frame_ is whole: into plaintext_
    std::size_t hand_out(std::span<std::uint8_t> buffer);

    std::unique_ptr<ByteStream> inner_;
    noise::CipherState send_;
    noise::CipherState receive_;
    std::array<std::uint8_t, 2> prefix_{};  // the next frame's length, as far as it came
    std::size_t prefix_got_ = 0;
    bool in_frame_ = false;  // the prefix is whole; frame_ is being filled
    Bytes frame_;            // ciphertext being read
    std::size_t frame_got_ = 0;
    error_code failed_;  // a bad frame: every later read fails with it
    Bytes plaintext_;    // decrypted, not yet handed out
    std::size_t plaintext_pos_ = 0;
    Bytes out_;  // frames being written
};

}  // namespace keel::net
