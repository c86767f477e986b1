// Circuit Relay v2 from the bytes of a remote: the first byte picks what is fed. 0: a HOP message
// read by the relay's reader; 1: a STOP message; 2: a signed envelope opened as a reservation
// voucher; 3: a multiaddr taken apart as a /p2p-circuit address. Properties: a message is read
// from at most max_relay_message bytes and, when it parses, has its required type; an envelope
// opens only with a signature by its own key over the voucher domain (re-sealing its payload
// with that key is not possible here, so: it never opens for another domain); a circuit address
// put back together names the same relay and target.
#include <keel/proto/relay.pb.h>
#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/crypto/signed_envelope.hpp"
#include "keel/host/circuit_address.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/relay/relay_config.hpp"
#include "keel/relay/relay_messages.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t mode = in.byte() % 4;
    BytesView wire = in.rest();
    if (mode == 0 || mode == 1) {
        net::asio::io_context io;
        auto pair = net::make_memory_stream_pair(io.get_executor());
        bool finished = fuzz::drive(io, [&]() -> net::awaitable<void> {
            co_await pair.second->write_all(wire);
            co_await pair.second->close_write();
            pb::HopMessage hop;
            pb::StopMessage stop;
            google::protobuf::MessageLite& message =
                mode == 0 ? static_cast<google::protobuf::MessageLite&>(hop) : stop;
            auto ec =
                co_await relay::read_relay_message(*pair.first, message, std::chrono::seconds(5));
            if (ec) co_return;
            KEEL_FUZZ_CHECK(wire.size() >= 1);
            KEEL_FUZZ_CHECK(message.IsInitialized());
            KEEL_FUZZ_CHECK(message.ByteSizeLong() <= relay::max_relay_message * 2);
        });
        KEEL_FUZZ_CHECK(finished);
    } else if (mode == 2) {
        auto opened = open_envelope(wire, relay::voucher_domain);
        if (opened) {
            KEEL_FUZZ_CHECK(wire.size() <= SignedEnvelope::max_size);
            KEEL_FUZZ_CHECK(!open_envelope(wire, "libp2p-peer-record"));
        }
    } else {
        auto addr = Multiaddr::from_bytes(wire);
        if (!addr) return 0;
        auto circuit = parse_circuit(*addr);
        if (!circuit) return 0;
        KEEL_FUZZ_CHECK(is_circuit(*addr));
        if (circuit->target) {
            auto again = parse_circuit(circuit_to(circuit->relay, *circuit->target));
            KEEL_FUZZ_CHECK(again && again->relay == circuit->relay &&
                            again->relay_peer == circuit->relay_peer &&
                            again->target == circuit->target);
        }
    }
    return 0;
}
