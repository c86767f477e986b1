#include "keel/noise/handshake_state.hpp"

#include <algorithm>

#include <sodium.h>

#include "keel/noise/constants.hpp"
#include "keel/noise/noise_errc.hpp"

namespace keel::noise {
namespace {

constexpr std::size_t dh_len = 32;
constexpr std::size_t encrypted_key_len = dh_len + tag_size;  // s after the first DH

// Fixed part of each XX message: the tokens before the payload.
constexpr std::size_t token_bytes(int step) {
    switch (step) {
        case 0:
            return dh_len;  // e
        case 1:
            return dh_len + encrypted_key_len;  // e, ee, s, es
        default:
            return encrypted_key_len;  // s, se
    }
}

// Only the first message (step 0) goes out before any DH, so only its payload has no tag.
constexpr std::size_t payload_overhead(int step) {
    return step == 0 ? 0 : tag_size;
}

void wipe(KeyPair& k) {
    sodium_memzero(k.private_key.data(), k.private_key.size());
}

std::span<const std::uint8_t, 32> key_at(BytesView message, std::size_t offset) {
    return message.subspan(offset).first<32>();
}

// DH of a local and a remote key, mixed into the chaining key (the ee/es/se tokens).
boost::system::result<void> mix_dh(SymmetricState& symmetric, const KeyPair& local,
                                   const Key& remote) {
    auto shared = dh(local, remote);
    if (!shared) return shared.error();
    symmetric.mix_key(*shared);
    sodium_memzero(shared->data(), shared->size());
    return {};
}

}  // namespace

HandshakeState::HandshakeState(Role role, BytesView prologue, KeyPair static_keys,
                               std::optional<KeyPair> fixed_ephemeral)
    : role_(role), symmetric_(protocol_name), s_(static_keys), e_(fixed_ephemeral) {
    symmetric_.mix_hash(prologue);  // XX has no pre-messages, so the prologue is all there is
    wipe(static_keys);
    if (fixed_ephemeral) wipe(*fixed_ephemeral);
}

HandshakeState::~HandshakeState() {
    wipe(s_);
    if (e_) wipe(*e_);
}

bool HandshakeState::is_my_turn() const {
    if (failed_ || step_ >= 3) return false;
    return (step_ % 2 == 0) == (role_ == Role::initiator);
}

boost::system::result<Bytes> HandshakeState::write_message(BytesView payload) {
    if (!is_my_turn()) return make_error_code(noise_errc::handshake_out_of_order);
    std::size_t size = token_bytes(step_) + payload.size() + payload_overhead(step_);
    if (size > max_message_size) return make_error_code(noise_errc::message_too_long);

    // From here on h and ck change, so a failure cannot be retried.
    failed_ = true;
    Bytes out;
    out.reserve(size);
    if (step_ == 0 || step_ == 1) {  // e
        if (!e_) e_ = KeyPair::generate();
        out.insert(out.end(), e_->public_key.begin(), e_->public_key.end());
        symmetric_.mix_hash(e_->public_key);
    }
    if (step_ == 1) {  // ee, s, es (responder)
        if (auto r = mix_dh(symmetric_, *e_, *remote_ephemeral_); !r) return r.error();
        if (auto r = symmetric_.encrypt_and_hash(s_.public_key, out); !r) return r.error();
        if (auto r = mix_dh(symmetric_, s_, *remote_ephemeral_); !r) return r.error();
    }
    if (step_ == 2) {  // s, se (initiator)
        if (auto r = symmetric_.encrypt_and_hash(s_.public_key, out); !r) return r.error();
        if (auto r = mix_dh(symmetric_, s_, *remote_ephemeral_); !r) return r.error();
    }
    if (auto r = symmetric_.encrypt_and_hash(payload, out); !r) return r.error();
    failed_ = false;
    ++step_;
    return out;
}

boost::system::result<Bytes> HandshakeState::read_message(BytesView message) {
    if (failed_ || step_ >= 3 || is_my_turn()) {
        return make_error_code(noise_errc::handshake_out_of_order);
    }
    if (message.size() > max_message_size) return make_error_code(noise_errc::message_too_long);
    std::size_t fixed = token_bytes(step_);
    if (message.size() < fixed + payload_overhead(step_)) {
        return make_error_code(noise_errc::message_too_short);
    }

    failed_ = true;
    std::size_t pos = 0;
    if (step_ == 0 || step_ == 1) {  // e
        remote_ephemeral_.emplace();
        auto re = key_at(message, pos);
        std::copy(re.begin(), re.end(), remote_ephemeral_->begin());
        symmetric_.mix_hash(re);
        pos += dh_len;
    }
    auto read_static = [&]() -> boost::system::result<void> {  // s, decrypted into rs
        Bytes rs;
        auto r = symmetric_.decrypt_and_hash(message.subspan(pos, encrypted_key_len), rs);
        if (!r) return r;
        remote_static_.emplace();
        std::copy(rs.begin(), rs.end(), remote_static_->begin());
        pos += encrypted_key_len;
        return {};
    };
    if (step_ == 1) {  // ee, s, es (initiator)
        if (auto r = mix_dh(symmetric_, *e_, *remote_ephemeral_); !r) return r.error();
        if (auto r = read_static(); !r) return r.error();
        if (auto r = mix_dh(symmetric_, *e_, *remote_static_); !r) return r.error();
    }
    if (step_ == 2) {  // s, se (responder)
        if (auto r = read_static(); !r) return r.error();
        if (auto r = mix_dh(symmetric_, *e_, *remote_static_); !r) return r.error();
    }
    Bytes payload;
    if (auto r = symmetric_.decrypt_and_hash(message.subspan(pos), payload); !r) {
        return r.error();
    }
    failed_ = false;
    ++step_;
    return payload;
}

boost::system::result<HandshakeState::Split> HandshakeState::split() {
    if (!complete()) return make_error_code(noise_errc::handshake_not_complete);
    if (split_done_) return make_error_code(noise_errc::handshake_out_of_order);
    split_done_ = true;
    if (e_) wipe(*e_);  // no longer needed; dropping it early limits what a later leak exposes
    auto [c1, c2] = symmetric_.split();
    if (role_ == Role::initiator) return Split{c1, c2};
    return Split{c2, c1};
}

}  // namespace keel::noise
