// pipe_streams: both directions at once, end of stream passed on as a half-close, an error on one
// side resetting both, and the idle timeout releasing an abandoned pipe.
#include "keel/net/stream_pipe.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/net/memory_stream.hpp"
#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using namespace std::chrono_literals;
using test::pattern;
using test::run;

// Reads until end of stream (or an error, returned).
awaitable<result<Bytes>> read_all(ByteStream& stream) {
    Bytes out;
    std::array<std::uint8_t, 4096> buffer{};
    for (;;) {
        auto n = co_await stream.read_some(buffer);
        if (!n) {
            if (n.error() == asio::error::eof) co_return out;
            co_return n.error();
        }
        out.insert(out.end(), buffer.begin(), buffer.begin() + *n);
    }
}

// client <-> [a | pipe | b] <-> server: what the client writes reaches the server and back.
struct Piped {
    std::unique_ptr<ByteStream> client, a, b, server;
};

Piped make_piped(asio::any_io_executor executor) {
    Piped p;
    std::tie(p.client, p.a) = make_memory_stream_pair(executor);
    std::tie(p.b, p.server) = make_memory_stream_pair(executor);
    return p;
}

TEST(StreamPipe, CopiesBothWaysAndPassesHalfCloses) {
    run([]() -> awaitable<void> {
        auto p = make_piped(co_await asio::this_coro::executor);
        auto up = pattern(300 * 1024, 1);
        auto down = pattern(70 * 1024, 2);
        PipeResult piped;
        auto pipe = [&]() -> awaitable<void> { piped = co_await pipe_streams(*p.a, *p.b, 5s); };
        auto client = [&]() -> awaitable<result<Bytes>> {
            if (auto ec = co_await p.client->write_all(up)) co_return ec;
            if (auto ec = co_await p.client->close_write()) co_return ec;
            co_return co_await read_all(*p.client);
        };
        auto server = [&]() -> awaitable<result<Bytes>> {
            auto got = co_await read_all(*p.server);  // ends only when the client's end arrives
            if (!got) co_return got;
            if (auto ec = co_await p.server->write_all(down)) co_return ec;
            if (auto ec = co_await p.server->close_write()) co_return ec;
            co_return got;
        };
        using namespace asio::experimental::awaitable_operators;
        auto [client_got, server_got] = co_await (pipe() && (client() && server()));
        KEEL_CO_ASSERT_OK(client_got);
        KEEL_CO_ASSERT_OK(server_got);
        EXPECT_EQ(*server_got, up);
        EXPECT_EQ(*client_got, down);
        EXPECT_EQ(piped.a_to_b, up.size());
        EXPECT_EQ(piped.b_to_a, down.size());
        EXPECT_FALSE(piped.idle_timeout);
    });
}

TEST(StreamPipe, AResetOnOneSideResetsTheOther) {
    run([]() -> awaitable<void> {
        auto p = make_piped(co_await asio::this_coro::executor);
        auto pipe = [&]() -> awaitable<PipeResult> {
            co_return co_await pipe_streams(*p.a, *p.b, 5s);
        };
        auto server = [&]() -> awaitable<result<Bytes>> { co_return co_await read_all(*p.server); };
        auto client = [&]() -> awaitable<bool> {
            co_await p.client->write_all(pattern(100));
            p.client->reset();
            co_return true;
        };
        using namespace asio::experimental::awaitable_operators;
        auto [piped, server_got, done] = co_await (pipe() && server() && client());
        (void)done;
        EXPECT_FALSE(piped.idle_timeout);
        EXPECT_FALSE(server_got) << "the server saw a clean end instead of a reset";
    });
}

TEST(StreamPipe, IdleTimeoutResetsBothSides) {
    run([]() -> awaitable<void> {
        auto p = make_piped(co_await asio::this_coro::executor);
        auto started = Clock::now();
        auto piped = co_await pipe_streams(*p.a, *p.b, 100ms);
        EXPECT_TRUE(piped.idle_timeout);
        EXPECT_GE(Clock::now() - started, 100ms);
        auto after = co_await read_all(*p.server);
        EXPECT_FALSE(after);  // reset, not a clean end
    });
}

}  // namespace
}  // namespace keel::net
