// decode_identify: the identify / identify push protobuf a peer sends about itself. Properties:
// the limits hold (max_identify_addrs, max_identify_protocols), and what was decoded survives
// encode_identify then decode_identify unchanged (decode(encode(x)) == x).
#include "fuzz_util.hpp"
#include "keel/protocols/identify.hpp"

using namespace keel;
using namespace keel::protocols;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto info = decode_identify(BytesView(data, size));
    if (!info) return 0;
    KEEL_FUZZ_CHECK(size <= max_identify_message);
    KEEL_FUZZ_CHECK(info->listen_addrs.size() <= max_identify_addrs);
    KEEL_FUZZ_CHECK(info->protocols.size() <= max_identify_protocols);
    auto again = decode_identify(encode_identify(*info));
    KEEL_FUZZ_CHECK(again.has_value());
    KEEL_FUZZ_CHECK(again->protocol_version == info->protocol_version);
    KEEL_FUZZ_CHECK(again->agent_version == info->agent_version);
    KEEL_FUZZ_CHECK(again->public_key == info->public_key);
    KEEL_FUZZ_CHECK(again->listen_addrs == info->listen_addrs);
    KEEL_FUZZ_CHECK(again->observed_addr == info->observed_addr);
    KEEL_FUZZ_CHECK(again->protocols == info->protocols);
    return 0;
}
