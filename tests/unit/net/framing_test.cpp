#include "keel/net/framing.hpp"

#include <algorithm>
#include <limits>

#include <gtest/gtest.h>

#include "keel/base/varint.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using test::ProbeStream;
using test::run;

TEST(Framing, ReadUvarintReadsByteAtATimeAndStopsAfterIt) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        ProbeStream reader(std::move(pair.second));
        auto log = reader.log();

        Bytes wire;
        append_uvarint(wire, 300);  // 0xac 0x02
        KEEL_CO_ASSERT(wire.size() == 2u);
        Bytes rest = to_bytes("rest");
        wire.insert(wire.end(), rest.begin(), rest.end());
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(wire));

        auto value = co_await read_uvarint(reader);
        KEEL_CO_ASSERT_OK(value);
        EXPECT_EQ(*value, 300u);
        // Two one-byte reads, although four more bytes were already available.
        EXPECT_EQ(log->read_requests, (std::vector<std::size_t>{1, 1}));
        EXPECT_EQ(log->bytes_read, 2u);

        std::array<std::uint8_t, 16> buf{};
        auto n = co_await reader.read_some(buf);
        KEEL_CO_ASSERT_OK(n);
        EXPECT_EQ(as_chars(BytesView(buf.data(), *n)), "rest");
    });
}

TEST(Framing, ReadUvarintLargestValue) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        ProbeStream reader(std::move(pair.second));
        const std::uint64_t max63 = std::numeric_limits<std::uint64_t>::max() >> 1;
        Bytes wire;
        append_uvarint(wire, max63);
        KEEL_CO_ASSERT(wire.size() == max_uvarint_size);
        wire.push_back(0x7f);  // the next message's first byte
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(wire));
        auto value = co_await read_uvarint(reader);
        KEEL_CO_ASSERT_OK(value);
        EXPECT_EQ(*value, max63);
        EXPECT_EQ(reader.log()->bytes_read, max_uvarint_size);
    });
}

TEST(Framing, ReadUvarintRejectsNonMinimalAndOverlong) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        {
            auto pair = make_memory_stream_pair(ex);
            Bytes padded{0x80, 0x00};
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(padded));
            auto value = co_await read_uvarint(*pair.second);
            KEEL_CO_ASSERT(!value);
            EXPECT_EQ(value.error(), net_errc::malformed_message);
        }
        {
            auto pair = make_memory_stream_pair(ex);
            Bytes overlong(12, 0xff);  // never terminates
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(overlong));
            auto value = co_await read_uvarint(*pair.second);
            KEEL_CO_ASSERT(!value);
            EXPECT_EQ(value.error(), net_errc::malformed_message);
        }
    });
}

TEST(Framing, LengthPrefixedRoundTrip) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        Bytes big = test::pattern(300);
        Bytes empty;
        KEEL_CO_ASSERT_NO_ERROR(co_await write_length_prefixed(*pair.first, big));
        KEEL_CO_ASSERT_NO_ERROR(co_await write_length_prefixed(*pair.first, empty));
        Bytes exact = test::pattern(64, 7);
        KEEL_CO_ASSERT_NO_ERROR(co_await write_length_prefixed(*pair.first, exact));

        auto m1 = co_await read_length_prefixed(*pair.second, 1024);
        KEEL_CO_ASSERT_OK(m1);
        EXPECT_EQ(*m1, big);
        auto m2 = co_await read_length_prefixed(*pair.second, 1024);
        KEEL_CO_ASSERT_OK(m2);
        EXPECT_TRUE(m2->empty());
        auto m3 = co_await read_length_prefixed(*pair.second, 64);  // exactly at the limit
        KEEL_CO_ASSERT_OK(m3);
        EXPECT_EQ(*m3, exact);
    });
    EXPECT_EQ(length_prefixed(as_bytes("abc")), (Bytes{3, 'a', 'b', 'c'}));
}

// A length prefix announcing `length`, then `body` (which may be shorter than announced).
Bytes announcing(std::uint64_t length, const Bytes& body = {}) {
    Bytes wire;
    append_uvarint(wire, length);
    wire.insert(wire.end(), body.begin(), body.end());
    return wire;
}

TEST(Framing, ReadLengthPrefixedRejectsOverLimitBeforeReadingOrAllocating) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        {
            // A prefix announcing 2^62 bytes and nothing after it: allocating would throw
            // bad_alloc and reading would wait forever, so only an early check can answer.
            auto pair = make_memory_stream_pair(ex);
            ProbeStream reader(std::move(pair.second));
            const Bytes wire = announcing(std::uint64_t{1} << 62);
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(wire));
            auto m = co_await read_length_prefixed(reader, 1024);
            KEEL_CO_ASSERT(!m);
            EXPECT_EQ(m.error(), net_errc::message_too_large);
            EXPECT_EQ(reader.log()->bytes_read, wire.size());  // only the prefix was consumed
        }
        {
            auto pair = make_memory_stream_pair(ex);
            Bytes body = test::pattern(65);
            KEEL_CO_ASSERT_NO_ERROR(co_await write_length_prefixed(*pair.first, body));
            auto m = co_await read_length_prefixed(*pair.second, 64);  // one over
            KEEL_CO_ASSERT(!m);
            EXPECT_EQ(m.error(), net_errc::message_too_large);
        }
    });
}

TEST(Framing, ReadLengthPrefixedHoldsWhatArrivesNotWhatIsAnnounced) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        {
            // 1 MiB announced, 100 bytes sent, then the end: the reader never offered a buffer
            // larger than its first chunk, so it never held the megabyte the prefix named.
            auto pair = make_memory_stream_pair(ex);
            ProbeStream reader(std::move(pair.second));
            const Bytes wire = announcing(1024 * 1024, test::pattern(100));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(wire));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->close_write());
            auto m = co_await read_length_prefixed(reader, 1024 * 1024);
            KEEL_CO_ASSERT(!m);
            EXPECT_EQ(m.error(), asio::error::eof);
            const auto& requests = reader.log()->read_requests;
            KEEL_CO_ASSERT(!requests.empty());
            EXPECT_LE(*std::max_element(requests.begin(), requests.end()), first_read_chunk);
        }
        {
            // A message past the first chunk still comes whole, in order.
            auto pair = make_memory_stream_pair(ex);
            Bytes big = test::pattern(5 * first_read_chunk + 123, 3);
            KEEL_CO_ASSERT_NO_ERROR(co_await write_length_prefixed(*pair.first, big));
            auto m = co_await read_length_prefixed(*pair.second, big.size());
            KEEL_CO_ASSERT_OK(m);
            EXPECT_EQ(*m, big);
        }
    });
}

TEST(Framing, TruncatedInputIsAnError) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        {
            // Body shorter than its prefix, then end of stream.
            auto pair = make_memory_stream_pair(ex);
            Bytes wire{10, 'a', 'b', 'c'};
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(wire));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->close_write());
            auto m = co_await read_length_prefixed(*pair.second, 1024);
            KEEL_CO_ASSERT(!m);
            EXPECT_EQ(m.error(), asio::error::eof);
        }
        {
            // Stream ends in the middle of the varint.
            auto pair = make_memory_stream_pair(ex);
            Bytes wire{0x80};
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(wire));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->close_write());
            auto m = co_await read_length_prefixed(*pair.second, 1024);
            KEEL_CO_ASSERT(!m);
            EXPECT_EQ(m.error(), asio::error::eof);
        }
        {
            // Nothing at all, then a reset.
            auto pair = make_memory_stream_pair(ex);
            pair.first->reset();
            auto v = co_await read_uvarint(*pair.second);
            KEEL_CO_ASSERT(!v);
            EXPECT_EQ(v.error(), asio::error::connection_reset);
        }
    });
}

}  // namespace
}  // namespace keel::net
