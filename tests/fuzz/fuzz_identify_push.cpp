// receive_identify over a stream: what the dialer of /ipfs/id/1.0.0 and the handler of
// /ipfs/id/push/1.0.0 read, several length-prefixed messages merged until the writer closes. The
// input is the peer's bytes. Properties: the merged record keeps the limits
// (max_identify_addrs, max_identify_protocols) whatever the number of messages, and the reader
// finishes (EOF) without reading past max_identify_messages.
#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/protocols/identify.hpp"

using namespace keel;
using namespace keel::protocols;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    net::asio::io_context io;
    auto pair = net::make_memory_stream_pair(io.get_executor());
    auto& local = pair.first;
    auto& remote = pair.second;
    bool finished = fuzz::drive(io, [&]() -> net::awaitable<void> {
        co_await remote->write_all(BytesView(data, size));
        co_await remote->close_write();
        auto info = co_await receive_identify(*local);
        if (!info) co_return;
        KEEL_FUZZ_CHECK(info->listen_addrs.size() <= max_identify_addrs);
        KEEL_FUZZ_CHECK(info->protocols.size() <= max_identify_protocols);
        (void)encode_identify(*info);
    });
    KEEL_FUZZ_CHECK(finished);  // all bytes are there and the writer closed: no waiting
    return 0;
}
