// TcpStream::set_deadline, the inbound upgrade's deadline: a wait past it ends with
// net_errc::timeout; bytes in time are read; a deadline set back to none waits again.
#include <gtest/gtest.h>

#include "keel/net/net_errc.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

// Both ends of one loopback TCP connection, as TcpStreams.
struct SocketPair {
    std::unique_ptr<net::TcpStream> ours;
    std::unique_ptr<net::TcpStream> theirs;
};

SocketPair connected_pair(asio::io_context& io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto dialed = run_task(io, connect_raw(acceptor.local_endpoint()), 5s);
    EXPECT_TRUE(dialed && *dialed);
    tcp::socket accepted(io);
    acceptor.accept(accepted);
    return {std::make_unique<net::TcpStream>(std::move(accepted)), std::move(**dialed)};
}

bool sent(asio::io_context& io, net::ByteStream& stream, const Bytes& bytes) {
    auto written = run_task(io, stream.write_all(bytes), 1s);
    return written && !*written;
}

net::awaitable<net::result<std::size_t>> read_one(net::ByteStream& stream) {
    std::array<std::uint8_t, 16> buffer{};
    co_return co_await stream.read_some(buffer);
}

TEST(TcpStreamDeadline, AReadWaitingPastTheDeadlineEndsWithATimeout) {
    asio::io_context io;
    auto pair = connected_pair(io);
    auto start = net::Clock::now();
    pair.ours->set_deadline(start + 100ms);
    auto read = run_task(io, read_one(*pair.ours), 5s);
    ASSERT_TRUE(read.has_value()) << "the read outlived its deadline";
    ASSERT_FALSE(read->has_value());
    EXPECT_EQ(read->error(), net::net_errc::timeout) << read->error().message();
    EXPECT_GE(net::Clock::now() - start, 90ms) << "ended before the deadline";
    // Past the deadline, a read that would wait fails at once.
    auto again = run_task(io, read_one(*pair.ours), 1s);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->error(), net::net_errc::timeout);
}

TEST(TcpStreamDeadline, BytesInTimeAreReadAndADeadlineSetBackToNoneWaitsAgain) {
    asio::io_context io;
    auto pair = connected_pair(io);
    // Long enough that the exchange below ends well before it, even under a sanitizer on a
    // loaded machine; the read after it is cleared is watched past it.
    pair.ours->set_deadline(net::Clock::now() + 250ms);
    const Bytes hello{'h', 'i'};
    ASSERT_TRUE(sent(io, *pair.theirs, hello));
    auto read = run_task(io, read_one(*pair.ours), 1s);
    ASSERT_TRUE(read && read->has_value());
    EXPECT_EQ(**read, 2u);

    // Cleared before it passed: a read waits past the old deadline, then gets what is sent.
    pair.ours->set_deadline(net::Clock::time_point::max());
    auto result = std::make_shared<std::optional<net::result<std::size_t>>>();
    asio::co_spawn(
        io,
        [](net::ByteStream& stream, decltype(result) out) -> net::awaitable<void> {
            out->emplace(co_await read_one(stream));
        }(*pair.ours, result),
        asio::detached);
    EXPECT_FALSE(run_until(
        io, [&] { return result->has_value(); }, 500ms))
        << "the cleared deadline still ended the read";
    ASSERT_TRUE(sent(io, *pair.theirs, hello));
    ASSERT_TRUE(run_until(
        io, [&] { return result->has_value(); }, 2s));
    ASSERT_TRUE(result->value().has_value()) << result->value().error().message();
    EXPECT_EQ(result->value().value(), 2u);
}

}  // namespace
}  // namespace keel::test
