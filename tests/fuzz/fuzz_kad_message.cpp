// Kademlia RPC messages (kad::decode_message): what every DHT request and response from the
// network goes through. Properties: every count is bounded (max_peers_per_message,
// max_addrs_per_peer, max_key_size, max_record_value_size); decode(encode(m)) == m; and
// fit_message brings any decoded message within max_sent_message_size unless its record alone is
// larger.
#include "fuzz_util.hpp"
#include "keel/kad/kad_message.hpp"

using namespace keel;
using namespace keel::kad;

namespace {

bool same_peers(const std::vector<KadPeer>& a, const std::vector<KadPeer>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].id != b[i].id || a[i].addrs != b[i].addrs || a[i].connected != b[i].connected)
            return false;
    return true;
}

void check_bounds(const KadMessage& m) {
    KEEL_FUZZ_CHECK(m.closer_peers.size() <= max_peers_per_message);
    KEEL_FUZZ_CHECK(m.provider_peers.size() <= max_peers_per_message);
    for (const auto* list : {&m.closer_peers, &m.provider_peers})
        for (const auto& p : *list) KEEL_FUZZ_CHECK(p.addrs.size() <= max_addrs_per_peer);
    KEEL_FUZZ_CHECK(m.key.size() <= max_key_size);
    if (m.record) KEEL_FUZZ_CHECK(m.record->value.size() <= max_record_value_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto message = decode_message(BytesView(data, size));
    if (!message) return 0;
    check_bounds(*message);
    (void)message_type_name(message->type);
    auto encoded = encode_message(*message);
    auto again = decode_message(encoded);
    KEEL_FUZZ_CHECK(again.has_value());
    KEEL_FUZZ_CHECK(again->type == message->type);
    KEEL_FUZZ_CHECK(again->key == message->key);
    KEEL_FUZZ_CHECK(again->record.has_value() == message->record.has_value());
    if (message->record) {
        KEEL_FUZZ_CHECK(again->record->key == message->record->key);
        KEEL_FUZZ_CHECK(again->record->value == message->record->value);
        KEEL_FUZZ_CHECK(again->record->time_received == message->record->time_received);
        KEEL_FUZZ_CHECK(again->record->publisher == message->record->publisher);
        KEEL_FUZZ_CHECK(again->record->ttl == message->record->ttl);
    }
    KEEL_FUZZ_CHECK(same_peers(again->closer_peers, message->closer_peers));
    KEEL_FUZZ_CHECK(same_peers(again->provider_peers, message->provider_peers));
    KEEL_FUZZ_CHECK(again->dropped_entries == 0);
    fit_message(*message);
    auto fitted = encode_message(*message);
    std::size_t record_size = 0;
    if (message->record)
        record_size = message->record->key.size() + message->record->value.size() +
                      (message->record->time_received ? 30 : 0) + message->record->publisher.size();
    KEEL_FUZZ_CHECK(fitted.size() <= max_sent_message_size ||
                    record_size + message->key.size() + 64 > max_sent_message_size);
    return 0;
}
