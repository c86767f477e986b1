#include "keel/relay/relay_errc.hpp"

#include <keel/proto/relay.pb.h>

#include <string>

namespace keel::relay {
namespace {

class RelayCategory : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "keel.relay"; }
    std::string message(int ev) const override {
        switch (static_cast<relay_errc>(ev)) {
            case relay_errc::reservation_refused:
                return "relay refused the reservation";
            case relay_errc::resource_limit_exceeded:
                return "relay resource limit exceeded";
            case relay_errc::permission_denied:
                return "relay denied permission";
            case relay_errc::connection_failed:
                return "relay could not reach the target";
            case relay_errc::no_reservation:
                return "target has no reservation on the relay";
            case relay_errc::malformed_message:
                return "malformed relay message";
            case relay_errc::unexpected_message:
                return "unexpected relay message";
            case relay_errc::not_a_circuit_address:
                return "not a /p2p-circuit address";
        }
        return "relay error " + std::to_string(ev);
    }
};

}  // namespace

const boost::system::error_category& relay_category() noexcept {
    static const RelayCategory category;
    return category;
}

boost::system::error_code make_error_code(relay_errc e) noexcept {
    return {static_cast<int>(e), relay_category()};
}

boost::system::error_code status_error(int status) noexcept {
    switch (status) {
        case pb::RESERVATION_REFUSED:
            return make_error_code(relay_errc::reservation_refused);
        case pb::RESOURCE_LIMIT_EXCEEDED:
            return make_error_code(relay_errc::resource_limit_exceeded);
        case pb::PERMISSION_DENIED:
            return make_error_code(relay_errc::permission_denied);
        case pb::CONNECTION_FAILED:
            return make_error_code(relay_errc::connection_failed);
        case pb::NO_RESERVATION:
            return make_error_code(relay_errc::no_reservation);
        case pb::UNEXPECTED_MESSAGE:
            return make_error_code(relay_errc::unexpected_message);
        default:
            return make_error_code(relay_errc::malformed_message);
    }
}

}  // namespace keel::relay
