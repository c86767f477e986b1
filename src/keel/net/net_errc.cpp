#include "keel/net/net_errc.hpp"

namespace keel::net {
namespace {

class NetCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "keel.net"; }
    std::string message(int ev) const override {
        switch (static_cast<net_errc>(ev)) {
            case net_errc::timeout:
                return "deadline exceeded";
            case net_errc::message_too_large:
                return "message exceeds the size limit";
            case net_errc::malformed_message:
                return "malformed message";
            case net_errc::protocol_not_supported:
                return "protocol not supported by the peer";
            case net_errc::bad_multistream_header:
                return "peer does not speak multistream-select 1.0";
            case net_errc::too_many_proposals:
                return "too many rejected protocol proposals";
            case net_errc::peer_id_mismatch:
                return "remote peer ID does not match the dialed one";
            case net_errc::connection_closed:
                return "connection closed";
            case net_errc::stream_reset:
                return "stream reset by peer";
            case net_errc::stream_limit:
                return "stream limit reached";
            case net_errc::write_queue_full:
                return "peer is not reading: write queue full";
            case net_errc::unsupported_address:
                return "unsupported address";
            case net_errc::no_addresses:
                return "no addresses to dial";
            case net_errc::shutting_down:
                return "shutting down";
            case net_errc::bad_handshake_payload:
                return "invalid Noise handshake payload";
            case net_errc::bad_identity_signature:
                return "identity signature over the Noise key is invalid";
            case net_errc::no_common_muxer:
                return "no stream muxer in common";
            case net_errc::protocol_error:
                return "peer violated the protocol";
        }
        return "unknown keel.net error";
    }
};

}  // namespace

const boost::system::error_category& net_category() noexcept {
    static const NetCategory category;
    return category;
}

}  // namespace keel::net
