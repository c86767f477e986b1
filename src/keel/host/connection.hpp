#pragma once
// One upgraded connection to a peer: secured, multiplexed, and (soon after) identified.
#include <memory>
#include <optional>
#include <string>

#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/condition.hpp"
#include "keel/net/yamux_session.hpp"

namespace keel {

enum class Direction { inbound, outbound };

struct Connection {
    Connection(std::uint64_t id, PeerId peer, PublicKey key, Direction direction,
               Multiaddr remote_addr, Multiaddr local_addr, std::string muxer, bool muxer_inlined,
               std::shared_ptr<net::YamuxSession> session)
        : id(id),
          peer(std::move(peer)),
          key(std::move(key)),
          direction(direction),
          remote_addr(std::move(remote_addr)),
          local_addr(std::move(local_addr)),
          muxer(std::move(muxer)),
          muxer_inlined(muxer_inlined),
          session(std::move(session)),
          identify_done(this->session->get_executor()) {}

    const std::uint64_t id;
    const PeerId peer;
    const PublicKey key;
    const Direction direction;
    const Multiaddr remote_addr;
    const Multiaddr local_addr;
    const std::string muxer;
    const bool muxer_inlined;  // chosen inside the Noise handshake, not by multistream-select
    const net::Clock::time_point opened_at = net::Clock::now();
    std::shared_ptr<net::YamuxSession> session;

    // Identify of the remote: pending until `identified` or `identify_error` is set.
    bool identified = false;
    net::error_code identify_error;
    net::Condition identify_done;  // notified when either is set

    // The last stream the remote opened besides identify (which every connection carries): a
    // ping, a DHT request... It shows that the peer reaches us over this connection, as a ping
    // back does (discovery verification, step 5). Empty until the remote opens one.
    std::string last_remote_protocol;
    net::Clock::time_point last_remote_stream_at{};

    // Over a relay (a /p2p-circuit address): the relay's byte and time limits apply.
    bool limited = false;

    bool is_open() const { return !session->is_closed(); }
};

}  // namespace keel
