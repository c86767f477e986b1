// Length-prefixed framing (net/framing.hpp) read from a stream: the first byte picks the caller's
// limit, the rest is what the peer sent. Properties: no message longer than the limit is ever
// returned (nor allocated: ASan's allocation limit and -rss_limit_mb catch a length trusted before
// the check), and each message read re-encodes (length_prefixed) to exactly the bytes consumed.
#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/base/varint.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/memory_stream.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    static constexpr std::size_t limits[] = {0, 1, 16, 1024, 64 * 1024, 1 << 20};
    const std::size_t limit = limits[in.byte() % std::size(limits)];
    const bool varint_only = in.flag();
    BytesView wire = in.rest();

    net::asio::io_context io;
    auto pair = net::make_memory_stream_pair(io.get_executor());
    auto& local = pair.first;
    auto& remote = pair.second;
    fuzz::drive(io, [&]() -> net::awaitable<void> {
        co_await remote->write_all(wire);
        co_await remote->close_write();
        Bytes consumed;
        for (int i = 0; i < 64; ++i) {
            if (varint_only) {
                auto v = co_await net::read_uvarint(*local);
                if (!v) co_return;
                append_uvarint(consumed, *v);
                continue;
            }
            auto message = co_await net::read_length_prefixed(*local, limit);
            if (!message) co_return;
            KEEL_FUZZ_CHECK(message->size() <= limit);
            auto framed = net::length_prefixed(*message);
            consumed.insert(consumed.end(), framed.begin(), framed.end());
            KEEL_FUZZ_CHECK(consumed.size() <= wire.size());
            KEEL_FUZZ_CHECK(std::equal(consumed.begin(), consumed.end(), wire.begin()));
        }
        KEEL_FUZZ_CHECK(consumed.size() <= wire.size());
        KEEL_FUZZ_CHECK(std::equal(consumed.begin(), consumed.end(), wire.begin()));
    });
    return 0;
}
