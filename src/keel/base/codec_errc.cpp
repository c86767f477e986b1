#include "keel/base/codec_errc.hpp"

#include <string>

namespace keel {
namespace {

class CodecCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "keel.codec"; }

    std::string message(int ev) const override {
        switch (static_cast<codec_errc>(ev)) {
            case codec_errc::truncated:
                return "input truncated";
            case codec_errc::varint_overflow:
                return "varint overflows 63 bits";
            case codec_errc::varint_not_minimal:
                return "varint not minimally encoded";
            case codec_errc::invalid_character:
                return "invalid character";
            case codec_errc::unsupported_multibase:
                return "unsupported multibase";
            case codec_errc::unsupported_multihash:
                return "unsupported multihash";
            case codec_errc::unsupported_cid:
                return "unsupported CID";
            case codec_errc::length_mismatch:
                return "length mismatch";
            case codec_errc::too_long:
                return "input too long";
            case codec_errc::unknown_protocol:
                return "unknown protocol";
            case codec_errc::invalid_value:
                return "invalid value";
        }
        return "unknown codec error";
    }
};

}  // namespace

const boost::system::error_category& codec_category() noexcept {
    static const CodecCategory category;
    return category;
}

boost::system::error_code make_error_code(codec_errc e) noexcept {
    return {static_cast<int>(e), codec_category()};
}

}  // namespace keel
