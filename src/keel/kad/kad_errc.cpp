#include "keel/kad/kad_errc.hpp"

namespace keel::kad {
namespace {

class KadCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "keel.kad"; }
    std::string message(int ev) const override {
        switch (static_cast<kad_errc>(ev)) {
            case kad_errc::malformed_message:
                return "malformed Kademlia message";
            case kad_errc::message_too_large:
                return "Kademlia message too large";
            case kad_errc::invalid_record:
                return "record failed validation";
            case kad_errc::unknown_namespace:
                return "no validator for the record's namespace";
            case kad_errc::not_found:
                return "not found in the DHT";
            case kad_errc::no_peers:
                return "routing table is empty";
            case kad_errc::quorum_failed:
                return "quorum not reached";
            case kad_errc::not_provider:
                return "provider record is not for the sender";
            case kad_errc::dial_backoff:
                return "peer in dial backoff after a failed dial";
        }
        return "unknown keel.kad error";
    }
};

}  // namespace

const boost::system::error_category& kad_category() noexcept {
    static const KadCategory category;
    return category;
}

}  // namespace keel::kad
