#include "keel/net/noise_session.hpp"

#include <keel/proto/noise.pb.h>
#include <algorithm>

#include "keel/net/net_errc.hpp"

namespace keel::net {
namespace {

struct RemoteIdentity {
    PeerId peer;
    PublicKey key;
    std::vector<std::string> muxers;
};

result<RemoteIdentity> check_payload(BytesView bytes, const std::optional<noise::Key>& static_key) {
    pb::NoiseHandshakePayload payload;
    if (!static_key || !payload.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
        !payload.has_identity_key() || !payload.has_identity_sig())
        return make_error_code(net_errc::bad_handshake_payload);
    auto key = PublicKey::unmarshal(as_bytes(payload.identity_key()));
    if (!key) return make_error_code(net_errc::bad_handshake_payload);
    if (!key->verify(noise_signed_static_key_message(*static_key),
                     as_bytes(payload.identity_sig())))
        return make_error_code(net_errc::bad_identity_signature);
    RemoteIdentity remote{PeerId::from_public_key(*key), std::move(*key), {}};
    if (payload.has_extensions()) {
        for (const auto& m : payload.extensions().stream_muxers()) remote.muxers.push_back(m);
    }
    return remote;
}

// connections/inlined-muxer-negotiation.md: the first of the initiator's list that both support.
result<std::optional<std::string>> choose_muxer(const std::vector<std::string>& initiator,
                                                const std::vector<std::string>& responder) {
    if (initiator.empty() || responder.empty()) return std::optional<std::string>{};
    for (const auto& m : initiator) {
        if (std::find(responder.begin(), responder.end(), m) != responder.end())
            return std::optional<std::string>{m};
    }
    return make_error_code(net_errc::no_common_muxer);
}

// A handshake message on the wire: its 2-byte big-endian length, then the message.
void append_handshake_message(Bytes& out, BytesView message) {
    out.push_back(static_cast<std::uint8_t>(message.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(message.size() & 0xff));
    out.insert(out.end(), message.begin(), message.end());
}

awaitable<result<Bytes>> read_handshake_message(ByteStream& stream) {
    std::array<std::uint8_t, 2> prefix{};
    if (auto ec = co_await read_exact(stream, prefix)) co_return ec;
    std::size_t length = std::size_t{prefix[0]} << 8 | prefix[1];
    if (length > max_noise_handshake_message)
        co_return make_error_code(net_errc::message_too_large);
    Bytes message(length);
    if (auto ec = co_await read_exact(stream, message)) co_return ec;
    co_return message;
}

}  // namespace

awaitable<result<SecuredConnection>> noise_secure(std::unique_ptr<ByteStream> raw, noise::Role role,
                                                  const Ed25519KeyPair& identity,
                                                  std::vector<std::string> muxers,
                                                  std::optional<PeerId> expected_peer) {
    NoiseIdentity ours(identity, std::move(muxers));
    co_return co_await noise_secure(std::move(raw), role, ours, std::move(expected_peer));
}

awaitable<result<SecuredConnection>> noise_secure(std::unique_ptr<ByteStream> raw, noise::Role role,
                                                  const NoiseIdentity& ours,
                                                  std::optional<PeerId> expected_peer,
                                                  Preamble preamble) {
    noise::HandshakeState hs(role, {}, ours.static_keys());
    const Bytes& our_payload = ours.payload();
    const auto& muxers = ours.muxers();
    result<RemoteIdentity> remote = make_error_code(net_errc::bad_handshake_payload);

    if (role == noise::Role::initiator) {
        auto m1 = hs.write_message({});
        if (!m1) co_return m1.error();
        Bytes out = std::move(preamble.send);
        append_handshake_message(out, *m1);
        if (auto ec = co_await raw->write_all(out)) co_return ec;
        if (preamble.receive) {
            if (auto ec = co_await preamble.receive(*raw)) co_return ec;
        }
        auto m2 = co_await read_handshake_message(*raw);
        if (!m2) co_return m2.error();
        auto p2 = hs.read_message(*m2);
        if (!p2) co_return p2.error();
        remote = check_payload(*p2, hs.remote_static());
        if (!remote) co_return remote.error();
        if (expected_peer && remote->peer != *expected_peer)
            co_return make_error_code(net_errc::peer_id_mismatch);
        auto m3 = hs.write_message(our_payload);
        if (!m3) co_return m3.error();
        out.clear();
        append_handshake_message(out, *m3);
        if (auto ec = co_await raw->write_all(out)) co_return ec;
    } else {
        auto m1 = co_await read_handshake_message(*raw);
        if (!m1) co_return m1.error();
        if (auto p1 = hs.read_message(*m1); !p1) co_return p1.error();
        auto m2 = hs.write_message(our_payload);
        if (!m2) co_return m2.error();
        Bytes out = std::move(preamble.send);
        append_handshake_message(out, *m2);
        if (auto ec = co_await raw->write_all(out)) co_return ec;
        auto m3 = co_await read_handshake_message(*raw);
        if (!m3) co_return m3.error();
        auto p3 = hs.read_message(*m3);
        if (!p3) co_return p3.error();
        remote = check_payload(*p3, hs.remote_static());
        if (!remote) co_return remote.error();
    }

    bool initiator = role == noise::Role::initiator;
    auto muxer =
        choose_muxer(initiator ? muxers : remote->muxers, initiator ? remote->muxers : muxers);
    if (!muxer) co_return muxer.error();
    auto split = hs.split();
    if (!split) co_return split.error();
    SecuredConnection secured{
        std::make_unique<NoiseStream>(std::move(raw), split->send, split->receive), remote->peer,
        std::move(remote->key), std::move(*muxer)};
    co_return secured;
}

NoiseStream::NoiseStream(std::unique_ptr<ByteStream> inner, noise::CipherState send,
                         noise::CipherState receive)
    : inner_(std::move(inner)), send_(send), receive_(receive) {}

awaitable<result<std::size_t>> NoiseStream::read_some(std::span<std::uint8_t> buffer) {
    while (plaintext_pos_ == plaintext_.size()) {
        if (auto ec = decrypt_ready()) co_return ec;
        if (plaintext_pos_ < plaintext_.size()) break;
        // Not a whole frame here yet: wait for the rest of it.
        if (!in_frame_) {
            auto rest = std::span(prefix_).subspan(prefix_got_);
            if (auto ec = co_await read_exact(*inner_, rest)) co_return ec;
            prefix_got_ = prefix_.size();
            if (auto ec = start_frame()) co_return ec;
        }
        auto rest = std::span(frame_).subspan(frame_got_);
        if (auto ec = co_await read_exact(*inner_, rest)) co_return ec;
        frame_got_ = frame_.size();
        if (auto ec = decrypt_frame()) co_return ec;
    }
    co_return hand_out(buffer);
}

std::size_t NoiseStream::read_ready(std::span<std::uint8_t> buffer) {
    if (plaintext_pos_ == plaintext_.size() && decrypt_ready()) return 0;  // read_some reports it
    return hand_out(buffer);
}

error_code NoiseStream::decrypt_ready() {
    while (!failed_ && plaintext_pos_ == plaintext_.size()) {
        if (!in_frame_) {
            prefix_got_ += inner_->read_ready(std::span(prefix_).subspan(prefix_got_));
            if (prefix_got_ < prefix_.size()) break;
            if (start_frame()) break;
        }
        frame_got_ += inner_->read_ready(std::span(frame_).subspan(frame_got_));
        if (frame_got_ < frame_.size()) break;
        decrypt_frame();
    }
    return failed_;
}

error_code NoiseStream::start_frame() {
    std::size_t length = std::size_t{prefix_[0]} << 8 | prefix_[1];
    prefix_got_ = 0;
    if (length < noise::tag_size) {
        failed_ = make_error_code(net_errc::malformed_message);
        return failed_;
    }
    in_frame_ = true;
    frame_.resize(length);
    frame_got_ = 0;
    return {};
}

error_code NoiseStream::decrypt_frame() {
    in_frame_ = false;
    plaintext_.resize(frame_.size() - noise::tag_size);
    auto n = receive_.decrypt(frame_, plaintext_);
    if (!n) {
        failed_ = n.error();
        return failed_;
    }
    plaintext_.resize(*n);
    plaintext_pos_ = 0;
    return {};
}

std::size_t NoiseStream::hand_out(std::span<std::uint8_t> buffer) {
    std::size_t n = std::min(buffer.size(), plaintext_.size() - plaintext_pos_);
    std::copy_n(plaintext_.begin() + static_cast<std::ptrdiff_t>(plaintext_pos_), n,
                buffer.begin());
    plaintext_pos_ += n;
    return n;
}

awaitable<error_code> NoiseStream::write_all(BytesView data) {
    out_.clear();
    std::size_t frames = (data.size() + noise_max_plaintext - 1) / noise_max_plaintext;
    out_.reserve(data.size() + frames * (2 + noise::tag_size));
    while (!data.empty()) {
        std::size_t chunk = std::min(data.size(), noise_max_plaintext);
        std::size_t at = out_.size();
        out_.resize(at + 2 + chunk + noise::tag_size);
        auto n = send_.encrypt(data.first(chunk), std::span(out_).subspan(at + 2));
        if (!n) co_return n.error();
        out_[at] = static_cast<std::uint8_t>(*n >> 8);
        out_[at + 1] = static_cast<std::uint8_t>(*n & 0xff);
        data = data.subspan(chunk);
    }
    co_return co_await inner_->write_all(out_);
}

}  // namespace keel::net
