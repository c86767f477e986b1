#pragma once
// Kademlia messages as an attacker writes them by hand: length-prefixed frames to pipeline many
// requests on one stream without waiting for answers.
#include "keel/base/varint.hpp"
#include "keel/kad/kad_message.hpp"

namespace keel::test {

inline Bytes frame(const kad::KadMessage& m) {
    Bytes body = kad::encode_message(m);
    Bytes out;
    append_uvarint(out, body.size());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

inline kad::KadMessage message(kad::MessageType type, Bytes key) {
    kad::KadMessage m;
    m.type = type;
    m.key = std::move(key);
    return m;
}

}  // namespace keel::test
