#pragma once
// Sizes fixed by the Noise spec and by Noise_XX_25519_ChaChaPoly_SHA256.
#include <cstddef>

namespace keel::noise {

inline constexpr std::size_t max_message_size = 65535;  // Noise spec limit incl. tag
inline constexpr std::size_t tag_size = 16;             // Poly1305 tag
inline constexpr std::size_t key_size = 32;             // X25519 keys and ChaCha20 keys
inline constexpr std::size_t hash_size = 32;            // SHA-256 output (HASHLEN)

}  // namespace keel::noise
