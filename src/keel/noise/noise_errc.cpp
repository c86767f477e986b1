#include "keel/noise/noise_errc.hpp"

#include <string>

namespace keel::noise {
namespace {

class NoiseCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "keel.noise"; }

    std::string message(int ev) const override {
        switch (static_cast<noise_errc>(ev)) {
            case noise_errc::decrypt_failed:
                return "noise: decryption failed";
            case noise_errc::message_too_short:
                return "noise: message too short";
            case noise_errc::message_too_long:
                return "noise: message too long";
            case noise_errc::handshake_out_of_order:
                return "noise: handshake out of order";
            case noise_errc::nonce_exhausted:
                return "noise: nonce exhausted";
            case noise_errc::handshake_not_complete:
                return "noise: handshake not complete";
            case noise_errc::invalid_public_key:
                return "noise: invalid public key";
        }
        return "noise: unknown error";
    }
};

}  // namespace

const boost::system::error_category& noise_category() noexcept {
    static const NoiseCategory category;
    return category;
}

}  // namespace keel::noise
