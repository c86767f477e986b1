#include "keel/crypto/crypto_errc.hpp"

#include <string>

namespace keel {
namespace {

class CryptoCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "keel.crypto"; }

    std::string message(int ev) const override {
        switch (static_cast<crypto_errc>(ev)) {
            case crypto_errc::invalid_key:
                return "invalid key";
            case crypto_errc::unsupported_key_type:
                return "unsupported key type";
            case crypto_errc::bad_signature:
                return "bad signature";
            case crypto_errc::invalid_peer_id:
                return "invalid peer id";
            case crypto_errc::key_file_io:
                return "cannot read or write the key file";
            case crypto_errc::key_file_format:
                return "key file is not a usable private key";
        }
        return "unknown crypto error";
    }
};

}  // namespace

const boost::system::error_category& crypto_category() noexcept {
    static const CryptoCategory category;
    return category;
}

boost::system::error_code make_error_code(crypto_errc e) noexcept {
    return {static_cast<int>(e), crypto_category()};
}

}  // namespace keel
