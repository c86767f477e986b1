#pragma once
// Reading and writing control-protocol messages: uvarint-length-prefixed protobufs, bounded by
// max_control_message before anything is allocated.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <keel/proto/p2pd.pb.h>

#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/byte_stream.hpp"

namespace keel::p2pd {

// A client that stops reading cannot hold a write (and the task answering it) forever.
inline constexpr net::Duration control_write_timeout{30'000};

// net_errc::timeout if the message is not written within control_write_timeout.
net::awaitable<net::error_code> write_message(net::ByteStream& stream,
                                              const google::protobuf::MessageLite& message);
// net_errc::message_too_large past `max_size`, codec_errc::invalid_value if it does not parse.
net::awaitable<net::result<pb::p2pd::Request>> read_request(net::ByteStream& stream,
                                                            std::size_t max_size);

pb::p2pd::Response ok_response();
pb::p2pd::Response error_response(std::string_view message);
// A peer ID field from a request (multihash bytes); nullopt if it is not one.
std::optional<PeerId> peer_id_field(const std::string& bytes);

pb::p2pd::PeerInfo peer_info(const PeerId& peer, const std::vector<Multiaddr>& addrs);

}  // namespace keel::p2pd
