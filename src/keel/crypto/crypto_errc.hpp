#pragma once
// Errors from keys, signatures, peer IDs and identity files (category "keel.crypto").
#include <boost/system/error_code.hpp>

namespace keel {

enum class crypto_errc {
    invalid_key = 1,       // malformed key bytes or protobuf
    unsupported_key_type,  // a key type we cannot use for this operation
    bad_signature,
    invalid_peer_id,
    key_file_io,      // reading or writing the identity file failed
    key_file_format,  // the identity file is not a libp2p PrivateKey we can use
};

const boost::system::error_category& crypto_category() noexcept;
boost::system::error_code make_error_code(crypto_errc e) noexcept;

}  // namespace keel

template <>
struct boost::system::is_error_code_enum<keel::crypto_errc> : std::true_type {};
