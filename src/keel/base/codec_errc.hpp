#pragma once
// Errors from decoding wire and text formats (varint, multibase, multihash, CID, multiaddr).
// This is the pattern every area follows: one enum, one named category, make_error_code, and the
// is_error_code_enum specialisation so the enum converts to boost::system::error_code implicitly.
#include <boost/system/error_code.hpp>

namespace keel {

enum class codec_errc {
    truncated = 1,  // input ended early; for streaming callers this means "need more bytes"
    varint_overflow,
    varint_not_minimal,
    invalid_character,
    unsupported_multibase,
    unsupported_multihash,
    unsupported_cid,
    length_mismatch,
    too_long,
    unknown_protocol,
    invalid_value,
};

const boost::system::error_category& codec_category() noexcept;
boost::system::error_code make_error_code(codec_errc e) noexcept;

}  // namespace keel

template <>
struct boost::system::is_error_code_enum<keel::codec_errc> : std::true_type {};
