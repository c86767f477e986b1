// The p2pd control protocol (keel p2pd, go-libp2p-daemon CONTROL.md): requests read from a
// control connection whose bytes are the input, one after another, as ControlDaemon does, with
// every field the daemon decodes from them (peer IDs, multiaddrs of CONNECT and STREAM_HANDLER,
// CIDs and keys of DHT requests). Properties: no length over max_control_message is accepted (nor
// allocated); a request read re-serialises within that bound and parses back equal; field
// decoders never crash; the reader stops at EOF.
#include <keel/proto/p2pd.pb.h>
#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/base/cid.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/p2pd/control_daemon.hpp"
#include "keel/p2pd/control_messages.hpp"

using namespace keel;
namespace pd = keel::pb::p2pd;

namespace {

void decode_fields(const pd::Request& request) {
    if (request.has_connect()) {
        (void)p2pd::peer_id_field(request.connect().peer());
        for (const auto& a : request.connect().addrs()) (void)Multiaddr::from_bytes(as_bytes(a));
    }
    if (request.has_disconnect()) (void)p2pd::peer_id_field(request.disconnect().peer());
    if (request.has_streamopen()) (void)p2pd::peer_id_field(request.streamopen().peer());
    if (request.has_streamhandler())
        (void)Multiaddr::from_bytes(as_bytes(request.streamhandler().addr()));
    if (request.has_peerstore()) (void)p2pd::peer_id_field(request.peerstore().id());
    if (request.has_dht()) {
        const auto& dht = request.dht();
        if (dht.has_peer()) (void)p2pd::peer_id_field(dht.peer());
        if (dht.has_cid()) (void)Cid::from_bytes(as_bytes(dht.cid()));
        if (dht.has_key()) (void)to_bytes(dht.key());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    net::asio::io_context io;
    auto pair = net::make_memory_stream_pair(io.get_executor());
    auto& local = pair.first;
    auto& remote = pair.second;
    bool finished = fuzz::drive(io, [&]() -> net::awaitable<void> {
        co_await remote->write_all(BytesView(data, size));
        co_await remote->close_write();
        for (int i = 0; i < 64; ++i) {
            auto request = co_await p2pd::read_request(*local, p2pd::max_control_message);
            if (!request) co_return;
            auto bytes = request->SerializeAsString();
            KEEL_FUZZ_CHECK(bytes.size() <= p2pd::max_control_message);
            pd::Request again;
            KEEL_FUZZ_CHECK(again.ParseFromString(bytes));
            KEEL_FUZZ_CHECK(again.SerializeAsString() == bytes);
            decode_fields(*request);
        }
    });
    KEEL_FUZZ_CHECK(finished);
    return 0;
}
