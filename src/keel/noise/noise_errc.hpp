#pragma once
// Error codes of the Noise layer, in the "keel.noise" category.
#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <type_traits>

namespace keel::noise {

enum class noise_errc {
    decrypt_failed = 1,      // AEAD tag mismatch: tampered, reordered or wrong key
    message_too_short,       // shorter than the pattern's fixed part, or than a tag
    message_too_long,        // over the 65535-byte Noise limit, or output buffer too small
    handshake_out_of_order,  // not our turn, handshake already over, or it failed earlier
    nonce_exhausted,         // 2^64-1 messages sent; the nonce 2^64-1 is reserved
    handshake_not_complete,  // split() before the last handshake message
    invalid_public_key,      // X25519 gave the all-zero shared secret (low-order point)
};

const boost::system::error_category& noise_category() noexcept;

inline boost::system::error_code make_error_code(noise_errc e) noexcept {
    return {static_cast<int>(e), noise_category()};
}

}  // namespace keel::noise

template <>
struct boost::system::is_error_code_enum<keel::noise::noise_errc> : std::true_type {};
