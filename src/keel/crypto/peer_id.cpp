#include "keel/crypto/peer_id.hpp"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "keel/base/cid.hpp"
#include "keel/base/codec_errc.hpp"
#include "keel/base/multibase.hpp"
#include "keel/base/multihash.hpp"
#include "keel/crypto/crypto_errc.hpp"

namespace keel {
namespace {

// Keys whose protobuf is at most this long are inlined (identity multihash), per the spec.
constexpr std::size_t max_inline_key_size = 42;

}  // namespace

PeerId PeerId::from_public_key(const PublicKey& key) {
    const Bytes marshalled = key.marshal();
    const Multihash mh = marshalled.size() <= max_inline_key_size ? Multihash::identity(marshalled)
                                                                  : Multihash::sha2_256(marshalled);
    return PeerId(mh.encode());
}

boost::system::result<PeerId> PeerId::from_bytes(BytesView multihash_bytes) {
    auto mh = Multihash::decode(multihash_bytes);
    if (!mh) return mh.error();
    const bool ok = (mh->code == Multihash::identity_code && !mh->digest.empty()) ||
                    (mh->code == Multihash::sha2_256_code && mh->digest.size() == 32);
    if (!ok) return crypto_errc::invalid_peer_id;
    return PeerId(Bytes(multihash_bytes.begin(), multihash_bytes.end()));
}

boost::system::result<PeerId> PeerId::parse(std::string_view text) {
    // Legacy form: a bare base58btc multihash. sha2-256 ones start "Qm", identity ones "1".
    if (!text.empty() && (text[0] == 'Q' || text[0] == '1')) {
        auto bytes = base58btc_decode(text);
        if (!bytes) return bytes.error();
        return from_bytes(*bytes);
    }
    auto bytes = multibase_decode(text);
    if (!bytes) return bytes.error();
    auto cid = Cid::from_bytes(*bytes);
    if (!cid) return cid.error();
    if (cid->version != 1 || cid->codec != Cid::libp2p_key) return crypto_errc::invalid_peer_id;
    return from_bytes(cid->hash.encode());
}

std::string PeerId::to_base58() const {
    return base58btc_encode(bytes_);
}

std::string PeerId::to_cid_base32() const {
    Bytes cid{0x01, static_cast<std::uint8_t>(Cid::libp2p_key)};  // version 1, codec 0x72
    cid.insert(cid.end(), bytes_.begin(), bytes_.end());
    return multibase_encode(Multibase::base32, cid);
}

std::string PeerId::short_string() const {
    const std::string full = to_base58();
    if (full.size() <= 12) return full;
    return full.substr(0, 6) + "\u2026" + full.substr(full.size() - 6);
}

std::optional<PublicKey> PeerId::extract_public_key() const {
    auto mh = Multihash::decode(bytes_);
    if (!mh || mh->code != Multihash::identity_code) return std::nullopt;
    auto key = PublicKey::unmarshal(mh->digest);
    // The embedded key must be in its canonical encoding, i.e. hash back to this very peer ID:
    // protobuf also parses other spellings of it (fields repeated or out of order, unknown
    // fields), and a key taken from one of those would belong to a different peer ID (found by
    // fuzz_peer_id).
    if (!key || !matches(*key)) return std::nullopt;
    return std::move(*key);
}

bool PeerId::matches(const PublicKey& key) const {
    return from_public_key(key) == *this;
}

}  // namespace keel

// Keyed (SipHash-2-4, a key drawn once per process): a remote chooses its peer ID, and with an
// unkeyed hash it could grind keys until thousands of them share one bucket of a bootstrap's maps.
std::size_t std::hash<keel::PeerId>::operator()(const keel::PeerId& id) const noexcept {
    static const auto key = [] {
        std::array<unsigned char, crypto_shorthash_KEYBYTES> k{};
        // sodium_init() is idempotent; randombytes_buf works (from the system RNG) even if it
        // failed, which it does only when that RNG is unusable.
        [[maybe_unused]] const int initialised = sodium_init();
        randombytes_buf(k.data(), k.size());
        return k;
    }();
    std::array<unsigned char, crypto_shorthash_BYTES> out{};
    crypto_shorthash(out.data(), id.bytes().data(), id.bytes().size(), key.data());
    std::uint64_t h = 0;
    std::memcpy(&h, out.data(), sizeof h);
    return static_cast<std::size_t>(h);
}
