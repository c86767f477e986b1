#pragma once
// Peer IDs (libp2p peer-ids spec): the multihash of a peer's marshalled public key.
#include <fmt/format.h>
#include <compare>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"
#include "keel/crypto/keys.hpp"

namespace keel {

class PeerId {
  public:
    // Empty, not a valid peer ID: only so PeerId can sit in aggregates and containers.
    PeerId() = default;

    // Identity multihash if the marshalled key is at most 42 bytes (ed25519, secp256k1),
    // sha2-256 otherwise.
    static PeerId from_public_key(const PublicKey& key);
    // Multihash bytes; only identity and sha2-256 multihashes are peer IDs.
    static boost::system::result<PeerId> from_bytes(BytesView multihash_bytes);
    // base58btc multihash ("Qm...", "12D3Koo...", "16Uiu2...") or a CIDv1 with codec libp2p-key
    // in any supported multibase.
    static boost::system::result<PeerId> parse(std::string_view text);

    const Bytes& bytes() const { return bytes_; }
    std::string to_base58() const;
    std::string to_cid_base32() const;
    // For logs: "12D3Ko…R3pq"-style, the first 6 and last 6 characters of the base58 form.
    std::string short_string() const;

    // Only for identity-multihash peer IDs, where the key is embedded.
    std::optional<PublicKey> extract_public_key() const;
    // True if `key` hashes to this peer ID.
    bool matches(const PublicKey& key) const;

    friend bool operator==(const PeerId&, const PeerId&) = default;
    friend auto operator<=>(const PeerId&, const PeerId&) = default;

  private:
    explicit PeerId(Bytes bytes) : bytes_(std::move(bytes)) {}
    Bytes bytes_;
};

}  // namespace keel

template <>
struct std::hash<keel::PeerId> {
    std::size_t operator()(const keel::PeerId& id) const noexcept;
};

// Log lines show peer IDs short ("12D3Ko…x7QFeb"): `log().info("peer={}", id)`. Encoded only when
// a line is written, where `id.short_string()` as an argument is encoded at every call, even with
// the level off (a base58 encoding per connection on a bootstrap's hot path).
template <>
struct fmt::formatter<keel::PeerId> : fmt::formatter<std::string_view> {
    auto format(const keel::PeerId& id, fmt::format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(id.short_string(), ctx);
    }
};
