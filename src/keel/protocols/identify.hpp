#pragma once
// identify and identify push (libp2p/specs identify/README.md): who a peer is, what it speaks and
// where it listens. One protobuf message, uvarint-length-prefixed, then the writer closes.
#include <optional>
#include <string>
#include <vector>

#include "keel/crypto/keys.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/byte_stream.hpp"

namespace keel::protocols {

inline constexpr std::string_view identify_protocol_id = "/ipfs/id/1.0.0";
inline constexpr std::string_view identify_push_protocol_id = "/ipfs/id/push/1.0.0";
// Real identify messages are a few hundred bytes; a signed peer record with many addresses stays
// well under this.
inline constexpr std::size_t max_identify_message = 64 * 1024;
inline constexpr std::size_t max_identify_addrs = 64;
inline constexpr std::size_t max_identify_protocols = 256;
inline constexpr std::size_t max_identify_messages = 8;  // one record split over several (go: 2)

struct IdentifyInfo {
    std::string protocol_version;
    std::string agent_version;
    std::optional<PublicKey> public_key;
    std::vector<Multiaddr> listen_addrs;
    std::optional<Multiaddr> observed_addr;
    std::vector<std::string> protocols;
};

Bytes encode_identify(const IdentifyInfo& info);
// `shared`, a record encoded without its observed address (the part a host says to every
// connection, kept encoded), with `observed` appended as that field: protobuf fields may come in
// any order. Saves encoding the whole record for each connection.
Bytes with_observed_addr(BytesView shared, const Multiaddr& observed);
// Unparseable addresses are skipped (a peer may list transports we do not know), and addresses
// and protocols past the limits above are dropped.
boost::system::result<IdentifyInfo> decode_identify(BytesView message);

// Handler side of /ipfs/id/1.0.0: send our record and close.
net::awaitable<net::error_code> send_identify(net::ByteStream& stream, const IdentifyInfo& ours);
// The same with our record already encoded.
net::awaitable<net::error_code> send_identify_record(net::ByteStream& stream, Bytes record);
// Dialer side of /ipfs/id/1.0.0, and handler side of push: read the record, which may come in
// several messages (merged), until the writer closes.
net::awaitable<net::result<IdentifyInfo>> receive_identify(net::ByteStream& stream);

}  // namespace keel::protocols
