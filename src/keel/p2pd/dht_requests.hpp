#pragma once
// The DHT part of the daemon control protocol (go-libp2p-daemon specs/DHT.md) on top of
// kad::Dht. Single answers are one Response; FIND_PROVIDERS, GET_CLOSEST_PEERS and SEARCH_VALUE
// answer Response{OK, DHTResponse BEGIN}, then one bare DHTResponse VALUE per result, then a bare
// DHTResponse END.
#include <keel/proto/p2pd.pb.h>

#include "keel/kad/dht.hpp"
#include "keel/net/byte_stream.hpp"

namespace keel::p2pd {

struct DhtAnswer {
    net::error_code write_error;  // writing to the control connection failed
    bool answered_error = false;  // the client got an ERROR response
};

// Runs `request` under `timeout` and writes the answer to `control`.
net::awaitable<DhtAnswer> answer_dht_request(kad::Dht& dht, const pb::p2pd::DHTRequest& request,
                                             net::ByteStream& control, net::Duration timeout);

}  // namespace keel::p2pd
