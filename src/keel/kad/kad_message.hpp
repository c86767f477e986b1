#pragma once
// Kademlia RPC messages as C++ values, converted from and to the protobuf with every count bounded.
// Peers with unparseable IDs and addresses that do not parse are dropped (and counted), not fatal:
// one bad entry in a response must not discard the good ones.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel::kad {

// Bounds for what we accept from the wire.
inline constexpr std::size_t max_message_size = 1024 * 1024;
inline constexpr std::size_t max_peers_per_message = 64;  // closer + provider peers, each list
inline constexpr std::size_t max_addrs_per_peer = 16;
inline constexpr std::size_t max_key_size = 1024;
inline constexpr std::size_t max_record_value_size = 64 * 1024;
// What a server reads as one request: the largest PUT_VALUE it can accept (a 64 KiB value and its
// keys) with room to spare. Answers we read may be larger (closer peers' addresses, a record),
// up to max_message_size.
inline constexpr std::size_t max_request_size = max_record_value_size + 16 * 1024;

enum class MessageType {
    put_value = 0,
    get_value = 1,
    add_provider = 2,
    get_providers = 3,
    find_node = 4,
    ping = 5
};
std::string_view message_type_name(MessageType type);

struct KadPeer {
    PeerId id;
    std::vector<Multiaddr> addrs;
    bool connected = false;
};

struct Record {
    Bytes key;
    Bytes value;
    // When the record was stored (Record.timeReceived, RFC 3339 on the wire: time_received.hpp);
    // none when a peer sent none or a text that is not RFC 3339.
    std::optional<std::chrono::system_clock::time_point> time_received;
    Bytes publisher;              // rust-libp2p: the publisher's peer ID (empty: not given)
    std::uint32_t ttl = 0;        // rust-libp2p: seconds left to live (0: not given)
    std::int64_t expires_ms = 0;  // local only, not on the wire: when a stored record is dropped
};

// A stored value lives at most this long after it arrived (go's MaxRecordAge, rust's default
// record TTL); a shorter `ttl` from the publisher is honoured.
inline constexpr std::int64_t max_record_age_ms = 36LL * 3600 * 1000;

struct KadMessage {
    MessageType type = MessageType::ping;
    Bytes key;
    std::optional<Record> record;
    std::vector<KadPeer> closer_peers;
    std::vector<KadPeer> provider_peers;
    std::size_t dropped_entries = 0;  // peers or addresses skipped while decoding
};

// What we send fits in 16 KiB: rust-libp2p (libp2p-kad's default max_packet_size, Chiral's
// clients) fails a request whose answer is longer, and 20 closer peers listing many long
// addresses (relay circuits, IPv6, several transports) get there.
inline constexpr std::size_t max_sent_message_size = 16 * 1024;

Bytes encode_message(const KadMessage& message);
// Trims `message` until its encoding fits in `limit`: first fewer addresses per peer (down to
// one), then fewer peers from the far end of each list. A record is never cut.
void fit_message(KadMessage& message, std::size_t limit = max_sent_message_size);
boost::system::result<KadMessage> decode_message(BytesView bytes);

}  // namespace keel::kad
