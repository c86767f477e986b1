// multistream-select 1.0 on both sides, against a peer whose bytes are the input: the first byte
// picks Keel's role (listener: multistream_handle, what every inbound connection and stream meets
// first; dialer: multistream_select, proposing two protocols). Properties: the protocol agreed on
// is one Keel supports (listener) or proposed (dialer); a listener answers at most
// max_multistream_proposals proposals; no exception escapes, the decoders finish on EOF.
#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/multistream.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const bool listener = in.flag();
    BytesView wire = in.rest();
    const std::vector<std::string> protocols{"/ipfs/kad/1.0.0", "/ipfs/ping/1.0.0"};
    net::asio::io_context io;
    auto pair = net::make_memory_stream_pair(io.get_executor());
    auto& local = pair.first;
    auto& remote = pair.second;
    fuzz::drive(io, [&]() -> net::awaitable<void> {
        co_await remote->write_all(wire);
        co_await remote->close_write();
        if (listener) {
            std::size_t asked = 0;
            auto chosen = co_await net::multistream_handle(*local, [&](std::string_view p) {
                ++asked;
                return std::find(protocols.begin(), protocols.end(), p) != protocols.end();
            });
            KEEL_FUZZ_CHECK(asked <= net::max_multistream_proposals + 1);
            if (chosen)
                KEEL_FUZZ_CHECK(std::find(protocols.begin(), protocols.end(), *chosen) !=
                                protocols.end());
        } else {
            auto chosen = co_await net::multistream_select(*local, protocols);
            if (chosen)
                KEEL_FUZZ_CHECK(std::find(protocols.begin(), protocols.end(), *chosen) !=
                                protocols.end());
        }
    });
    return 0;
}
