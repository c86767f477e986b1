#include "keel/net/yamux_session.hpp"

#include <deque>
#include <functional>
#include <memory>

#include <gtest/gtest.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/net/deadline.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/multistream.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/yamux_stream.hpp"
#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using namespace asio::experimental::awaitable_operators;
using test::pause;
using test::run;
using test::wait_until;

constexpr Duration io_limit{3000};

// One end of a Yamux connection with its inbound streams queued for the test to take. The
// session's handlers share the queue (not the Peer), so a test that stops early cannot leave
// them pointing at a destroyed Peer.
struct Peer {
    struct Inbox {
        std::deque<std::shared_ptr<YamuxStream>> streams;
        bool closed = false;
        error_code close_reason;
    };
    std::shared_ptr<YamuxSession> session;
    std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();

    void start() {
        session->start(
            [inbox = inbox](std::shared_ptr<YamuxStream> s) {
                inbox->streams.push_back(std::move(s));
            },
            [inbox = inbox](error_code ec) {
                inbox->closed = true;
                inbox->close_reason = ec;
            });
    }

    // nullptr if no stream arrived in time.
    awaitable<std::shared_ptr<YamuxStream>> accept() {
        auto box = inbox;
        std::function<bool()> arrived = [box] { return !box->streams.empty(); };
        bool ok = co_await wait_until(arrived, io_limit);
        if (!ok) co_return nullptr;
        auto s = std::move(box->streams.front());
        box->streams.pop_front();
        co_return s;
    }
};

// A client and a server session over a memory pair; shutdown() closes both, so no stream or
// session outlives the test.
struct Connection {
    Peer client;
    Peer server;

    explicit Connection(asio::any_io_executor ex, YamuxConfig config = {}) {
        auto pair = make_memory_stream_pair(ex);
        client.session = std::make_shared<YamuxSession>(std::move(pair.first), true, config);
        server.session = std::make_shared<YamuxSession>(std::move(pair.second), false, config);
        client.start();
        server.start();
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // A stream the client opens and the server accepts: {outbound, inbound}, nullptrs if either
    // failed.
    awaitable<std::pair<std::shared_ptr<YamuxStream>, std::shared_ptr<YamuxStream>>> open_both() {
        auto opened = client.session->open_stream();
        if (!opened) co_return std::pair{nullptr, nullptr};
        auto in = co_await server.accept();
        co_return std::pair{*opened, in};
    }

    awaitable<bool> shutdown() {
        client.session->close();
        server.session->close();
        std::function<bool()> both_closed = [this] {
            return client.session->is_closed() && server.session->is_closed();
        };
        bool ok = co_await wait_until(both_closed, io_limit);
        co_return ok;
    }
};

awaitable<result<Bytes>> read_n(ByteStream& stream, std::size_t n) {
    Bytes out(n);
    if (auto ec = co_await with_deadline(read_exact(stream, out), io_limit)) co_return ec;
    co_return out;
}

TEST(YamuxSession, OpenStreamAndEchoBothWays) {
    run([]() -> awaitable<void> {
        Connection c(co_await asio::this_coro::executor);
        auto opened = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(opened);
        auto out = *opened;
        EXPECT_EQ(out->id() % 2, 1u);  // client streams are odd
        EXPECT_FALSE(out->inbound());

        // The SYN goes out on open, before any data: the server sees the stream right away.
        auto in = co_await c.server.accept();
        KEEL_CO_ASSERT(in != nullptr);
        EXPECT_EQ(in->id(), out->id());
        EXPECT_TRUE(in->inbound());

        Bytes request = test::pattern(100 * 1024, 1);  // several 16 KiB frames
        KEEL_CO_ASSERT_NO_ERROR(co_await out->write_all(request));
        auto got = co_await read_n(*in, request.size());
        KEEL_CO_ASSERT_OK(got);
        EXPECT_EQ(*got, request);

        Bytes reply = test::pattern(70 * 1024, 2);
        KEEL_CO_ASSERT_NO_ERROR(co_await in->write_all(reply));
        auto back = co_await read_n(*out, reply.size());
        KEEL_CO_ASSERT_OK(back);
        EXPECT_EQ(*back, reply);

        // The server opens one too (even ID) and the two streams do not mix.
        auto server_opened = c.server.session->open_stream();
        KEEL_CO_ASSERT_OK(server_opened);
        EXPECT_EQ((*server_opened)->id() % 2, 0u);
        auto client_in = co_await c.client.accept();
        KEEL_CO_ASSERT(client_in != nullptr);
        Bytes a = to_bytes("on the client's stream");
        Bytes b = to_bytes("on the server's stream");
        KEEL_CO_ASSERT_NO_ERROR(co_await out->write_all(a));
        KEEL_CO_ASSERT_NO_ERROR(co_await (*server_opened)->write_all(b));
        auto got_b = co_await read_n(*client_in, b.size());
        KEEL_CO_ASSERT_OK(got_b);
        EXPECT_EQ(*got_b, b);
        auto got_a = co_await read_n(*in, a.size());
        KEEL_CO_ASSERT_OK(got_a);
        EXPECT_EQ(*got_a, a);

        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
    });
}

// A protocol negotiated lazily on a stream: the proposal goes in the same frame as the request,
// the listener's answer is taken off before the response is read.
TEST(YamuxSession, LazyProposalTravelsWithTheRequestAndItsAnswerIsTakenOff) {
    run([]() -> awaitable<void> {
        Connection c(co_await asio::this_coro::executor);
        auto opened = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(opened);
        auto out = *opened;
        auto lazy = multistream_lazy(std::string("/echo/1.0.0"));
        const Bytes proposal = lazy.send;
        out->set_preamble(std::move(lazy));
        auto in = co_await c.server.accept();
        KEEL_CO_ASSERT(in != nullptr);

        Bytes request = to_bytes("request");
        KEEL_CO_ASSERT_NO_ERROR(co_await out->write_all(request));
        // Proposal and request arrived together: the listener has both before it answers.
        auto arrived = [&] { return in->ready_to_read() >= proposal.size() + request.size(); };
        std::function<bool()> check = arrived;
        KEEL_CO_ASSERT(co_await wait_until(check, io_limit));
        auto echo = [](std::string_view p) { return p == "/echo/1.0.0"; };
        auto chosen = co_await multistream_handle(*in, echo);
        KEEL_CO_ASSERT_OK(chosen);
        auto got = co_await read_n(*in, request.size());
        KEEL_CO_ASSERT_OK(got);
        EXPECT_EQ(*got, request);
        Bytes response = to_bytes("response");
        KEEL_CO_ASSERT_NO_ERROR(co_await in->write_all(response));

        auto back = co_await read_n(*out, response.size());
        KEEL_CO_ASSERT_OK(back);
        EXPECT_EQ(*back, response);
        EXPECT_TRUE(co_await c.shutdown());
    });
}

// A stream that reads first (identify's dialer never writes) sends its proposal before it reads;
// a listener that refuses the protocol fails that read with protocol_not_supported.
TEST(YamuxSession, LazyProposalGoesOutOnTheFirstReadAndARefusalFailsIt) {
    run([]() -> awaitable<void> {
        Connection c(co_await asio::this_coro::executor);
        auto opened = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(opened);
        auto out = *opened;
        out->set_preamble(multistream_lazy(std::string("/not-here/1.0.0")));
        auto in = co_await c.server.accept();
        KEEL_CO_ASSERT(in != nullptr);
        auto echo = [](std::string_view p) { return p == "/echo/1.0.0"; };
        auto both =
            co_await (read_n(*out, 1) && with_deadline(multistream_handle(*in, echo), io_limit));
        KEEL_CO_ASSERT(!std::get<0>(both));
        EXPECT_EQ(std::get<0>(both).error(), net_errc::protocol_not_supported);
        KEEL_CO_ASSERT(!std::get<1>(both));  // the dialer reset the stream after the "na"
        EXPECT_TRUE(co_await c.shutdown());
    });
}

TEST(YamuxSession, HalfCloseGivesEofOnTheOtherSide) {
    run([]() -> awaitable<void> {
        Connection c(co_await asio::this_coro::executor);
        auto opened = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(opened);
        auto out = *opened;
        auto in = co_await c.server.accept();
        KEEL_CO_ASSERT(in != nullptr);

        Bytes bye = to_bytes("bye");
        KEEL_CO_ASSERT_NO_ERROR(co_await out->write_all(bye));
        KEEL_CO_ASSERT_NO_ERROR(co_await out->close_write());
        auto after_close = co_await out->write_all(bye);
        EXPECT_EQ(after_close, asio::error::broken_pipe);

        auto got = co_await read_n(*in, 3);
        KEEL_CO_ASSERT_OK(got);
        EXPECT_EQ(*got, bye);
        std::array<std::uint8_t, 16> buf{};
        auto eof = co_await with_deadline(in->read_some(buf), io_limit);
        KEEL_CO_ASSERT(!eof);
        EXPECT_EQ(eof.error(), asio::error::eof);

        // Half-closed only: the other direction still works, then closes too.
        Bytes still = to_bytes("still here");
        KEEL_CO_ASSERT_NO_ERROR(co_await in->write_all(still));
        KEEL_CO_ASSERT_NO_ERROR(co_await in->close_write());
        auto back = co_await read_n(*out, still.size());
        KEEL_CO_ASSERT_OK(back);
        EXPECT_EQ(*back, still);
        auto eof2 = co_await with_deadline(out->read_some(buf), io_limit);
        KEEL_CO_ASSERT(!eof2);
        EXPECT_EQ(eof2.error(), asio::error::eof);

        // Closed both ways: both sessions forget the stream.
        std::function<bool()> none_left = [&] {
            return c.client.session->stream_count() == 0 && c.server.session->stream_count() == 0;
        };
        bool forgotten = co_await wait_until(none_left);
        EXPECT_TRUE(forgotten);
        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
    });
}

awaitable<void> reset_after(YamuxStream& stream, Duration delay) {
    co_await pause(delay);
    stream.reset();
}

TEST(YamuxSession, ResetGivesStreamResetOnTheOtherSide) {
    run([]() -> awaitable<void> {
        Connection c(co_await asio::this_coro::executor);
        auto opened = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(opened);
        auto out = *opened;
        auto in = co_await c.server.accept();
        KEEL_CO_ASSERT(in != nullptr);

        // The server is blocked in a read when the client resets.
        std::array<std::uint8_t, 16> buf{};
        auto pending = co_await (with_deadline(in->read_some(buf), io_limit) &&
                                 reset_after(*out, Duration{20}));
        KEEL_CO_ASSERT(!pending);
        EXPECT_EQ(pending.error(), net_errc::stream_reset);

        Bytes data = to_bytes("too late");
        auto late_write = co_await in->write_all(data);
        EXPECT_EQ(late_write, net_errc::stream_reset);
        auto again = co_await in->read_some(buf);
        KEEL_CO_ASSERT(!again);
        EXPECT_EQ(again.error(), net_errc::stream_reset);
        // The resetting side's own operations fail too, but as aborted, not as a remote reset.
        auto own_write = co_await out->write_all(data);
        EXPECT_EQ(own_write, asio::error::operation_aborted);

        std::function<bool()> none_left = [&] {
            return c.client.session->stream_count() == 0 && c.server.session->stream_count() == 0;
        };
        bool forgotten = co_await wait_until(none_left);
        EXPECT_TRUE(forgotten);
        // The session itself is unharmed.
        auto next = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(next);
        auto next_in = co_await c.server.accept();
        KEEL_CO_ASSERT(next_in != nullptr);
        KEEL_CO_ASSERT_NO_ERROR(co_await (*next)->write_all(data));
        auto got = co_await read_n(*next_in, data.size());
        KEEL_CO_ASSERT_OK(got);
        EXPECT_EQ(*got, data);
        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
    });
}

TEST(YamuxSession, PingReturnsARoundTripTime) {
    run([]() -> awaitable<void> {
        Connection c(co_await asio::this_coro::executor);
        auto rtt = co_await with_deadline(c.client.session->ping(), io_limit);
        KEEL_CO_ASSERT_OK(rtt);
        EXPECT_GE(rtt->count(), 0);
        EXPECT_LT(*rtt, io_limit);
        auto rtt2 = co_await with_deadline(c.server.session->ping(), io_limit);
        KEEL_CO_ASSERT_OK(rtt2);
        EXPECT_GE(rtt2->count(), 0);
        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
        auto after = co_await c.client.session->ping();
        KEEL_CO_ASSERT(!after);
        EXPECT_EQ(after.error(), net_errc::connection_closed);
    });
}

// Flow control: a peer that does not read gets exactly the initial 256 KiB window, then the
// writer blocks until reads grant more. Written in 16 KiB chunks so progress is observable.
TEST(YamuxSession, WriterStallsAtTheWindowUntilThePeerReads) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Connection c(ex);
        const std::size_t window = c.client.session->config().initial_window;
        KEEL_CO_ASSERT(window == 256 * 1024);
        const std::size_t total = 1024 * 1024;
        static constexpr std::size_t chunk = 16 * 1024;
        auto data = std::make_shared<Bytes>(test::pattern(total, 3));

        auto opened = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(opened);
        auto out = *opened;
        auto in = co_await c.server.accept();
        KEEL_CO_ASSERT(in != nullptr);

        struct Progress {
            std::size_t written = 0;
            bool done = false;
            error_code ec;
        };
        auto progress = std::make_shared<Progress>();
        asio::co_spawn(
            ex,
            [out, data, progress]() -> awaitable<void> {
                for (std::size_t at = 0; at < data->size(); at += chunk) {
                    BytesView piece(data->data() + at, chunk);
                    if (auto ec = co_await out->write_all(piece)) {
                        progress->ec = ec;
                        break;
                    }
                    progress->written += chunk;
                }
                progress->done = true;
            },
            asio::detached);

        std::function<bool()> window_full = [&] { return progress->written >= window; };
        bool filled = co_await wait_until(window_full, io_limit);
        EXPECT_TRUE(filled);
        co_await pause(Duration{100});  // give a broken window every chance to let more through
        EXPECT_EQ(progress->written, window);
        EXPECT_FALSE(progress->done);

        // Reading resumes the writer; everything arrives intact and in order.
        Bytes got(total);
        KEEL_CO_ASSERT_NO_ERROR(co_await with_deadline(read_exact(*in, got), io_limit));
        EXPECT_TRUE(got == *data);
        std::function<bool()> writer_done = [&] { return progress->done; };
        bool finished = co_await wait_until(writer_done, io_limit);
        EXPECT_TRUE(finished);
        EXPECT_EQ(progress->written, total);
        EXPECT_FALSE(progress->ec);
        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
    });
}

// A peer that never reads cannot hold a writer for longer than write_timeout: the write fails
// with a timeout and the stream is reset.
TEST(YamuxSession, WriteToAPeerThatNeverReadsTimesOut) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        YamuxConfig config;
        config.write_timeout = Duration{300};
        Connection c(ex, config);
        auto opened = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(opened);
        auto out = *opened;
        auto in = co_await c.server.accept();
        KEEL_CO_ASSERT(in != nullptr);
        auto start = Clock::now();
        auto ec = co_await out->write_all(test::pattern(512 * 1024, 1));  // twice the window
        auto took = Clock::now() - start;
        EXPECT_EQ(ec, make_error_code(net_errc::timeout));
        EXPECT_GE(took, Duration{300});
        EXPECT_LT(took, Duration{2000});
        // The reader sees the data that fitted, then the reset.
        Bytes sink(64 * 1024);
        error_code end;
        for (int i = 0; i < 10 && !end; ++i) {
            auto n = co_await with_deadline(in->read_some(sink), io_limit);
            if (!n) end = n.error();
        }
        EXPECT_EQ(end, make_error_code(net_errc::stream_reset));
        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
    });
}

// The stream's own deadline bounds a read that waits (no with_deadline around it): data that
// comes in time is read, then the wait for more ends with a timeout at the deadline, and a
// deadline set back to none waits again.
TEST(YamuxSession, TheStreamsDeadlineEndsAReadThatWaitsTooLong) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Connection c(ex);
        auto both = co_await c.open_both();
        auto out = both.first;  // not a structured binding: the lambda below captures it
        auto in = both.second;
        KEEL_CO_ASSERT(out != nullptr && in != nullptr);
        in->set_deadline(Clock::now() + Duration{300});
        asio::co_spawn(
            ex,
            [out]() -> awaitable<void> {
                co_await pause(Duration{50});
                co_await out->write_all(to_bytes("in time"));
            },
            asio::detached);
        Bytes got(7);
        KEEL_CO_ASSERT_NO_ERROR(co_await read_exact(*in, got));
        EXPECT_EQ(got, to_bytes("in time"));
        auto start = Clock::now();
        Bytes more(1);
        auto late = co_await in->read_some(more);
        auto took = Clock::now() - start;
        KEEL_CO_ASSERT(!late);
        EXPECT_EQ(late.error(), make_error_code(net_errc::timeout));
        EXPECT_LT(took, Duration{2000});
        in->set_deadline(Clock::time_point::max());
        KEEL_CO_ASSERT_NO_ERROR(co_await out->write_all(to_bytes("!")));
        auto again = co_await read_n(*in, 1);
        KEEL_CO_ASSERT_OK(again);
        EXPECT_EQ(*again, to_bytes("!"));
        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
    });
}

// After close_read() nothing more is buffered: later data is dropped, its window not credited.
TEST(YamuxSession, ClosedForReadingHoldsNothing) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Connection c(ex);
        auto opened = c.client.session->open_stream();
        KEEL_CO_ASSERT_OK(opened);
        auto out = *opened;
        KEEL_CO_ASSERT_NO_ERROR(co_await out->write_all(test::pattern(1000, 2)));
        auto in = co_await c.server.accept();
        KEEL_CO_ASSERT(in != nullptr);
        std::function<bool()> arrived = [&] { return c.server.session->buffered() == 1000; };
        KEEL_CO_ASSERT(co_await wait_until(arrived, io_limit));
        in->close_read();
        EXPECT_EQ(c.server.session->buffered(), 0u);
        KEEL_CO_ASSERT_NO_ERROR(co_await out->write_all(test::pattern(200 * 1024, 3)));
        co_await pause(Duration{100});
        EXPECT_EQ(c.server.session->buffered(), 0u);
        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
    });
}

// Unread data past the process budget resets the stream it arrives on, and new inbound streams
// are refused while the connection's (or the process's) budget is full.
TEST(YamuxSession, ReceiveBudgetBoundsUnreadData) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        YamuxConfig config;
        config.max_buffered_per_connection = 1024 * 1024;
        config.process_budget = std::make_shared<ReceiveBudget>(300 * 1024);
        config.connection_reserve = 16 * 1024;
        Connection c(ex, config);
        std::vector<std::shared_ptr<YamuxStream>> held;
        for (int i = 0; i < 2; ++i) {
            auto opened = c.client.session->open_stream();
            KEEL_CO_ASSERT_OK(opened);
            KEEL_CO_ASSERT_NO_ERROR(co_await (*opened)->write_all(test::pattern(200 * 1024, i)));
            auto in = co_await c.server.accept();
            KEEL_CO_ASSERT(in != nullptr);
            held.push_back(in);  // accepted, never read
        }
        std::function<bool()> settled = [&] { return c.server.session->budget_resets() > 0; };
        KEEL_CO_ASSERT(co_await wait_until(settled, io_limit));
        EXPECT_LE(c.server.session->buffered(), 300u * 1024 + 16 * 1024);
        EXPECT_LE(config.process_budget->used(), 300u * 1024);
        held.clear();
        bool closed_cleanly = co_await c.shutdown();
        EXPECT_TRUE(closed_cleanly);
    });
}

// The spec's ACK backlog: with N of our streams unacknowledged, opening another waits for an
// acknowledgement (go-yamux resets streams past its 256-stream accept backlog). The remote here
// is raw bytes that acknowledge nothing until the test says so.
TEST(YamuxSession, OpeningWaitsWhileTheAckBacklogIsFull) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto pair = make_memory_stream_pair(ex);
        YamuxConfig config;
        config.max_unacknowledged_outbound = 2;
        config.close_linger = Duration(50);
        auto session = std::make_shared<YamuxSession>(std::move(pair.first), true, config);
        session->start([](std::shared_ptr<YamuxStream>) {}, [](error_code) {});
        auto& remote = *pair.second;

        auto first = session->open_stream();
        KEEL_CO_ASSERT_OK(first);
        EXPECT_FALSE(session->backlog_full());
        KEEL_CO_ASSERT_OK(session->open_stream());
        EXPECT_TRUE(session->backlog_full());
        auto waited = co_await with_deadline(session->wait_to_open(), Duration(100));
        EXPECT_EQ(waited, make_error_code(net_errc::timeout));

        // The remote acknowledges the first stream: there is room again.
        yamux::FrameHeader ack{yamux::FrameType::window_update, yamux::flag::ack, (*first)->id(),
                               0};
        auto bytes = ack.encode();
        KEEL_CO_ASSERT_NO_ERROR(co_await remote.write_all(Bytes(bytes.begin(), bytes.end())));
        waited = co_await with_deadline(session->wait_to_open(), io_limit);
        EXPECT_FALSE(waited) << waited.message();
        EXPECT_FALSE(session->backlog_full());
        // The remote hangs up: the session ends and its tasks let go of it (no leak).
        session->close();
        pair.second.reset();
        std::function<bool()> closed = [session] { return session->is_closed(); };
        bool ok = co_await wait_until(closed, io_limit);
        EXPECT_TRUE(ok);
    });
}

// A transport that passes everything to the one it wraps: the tests below change one call.
class WrappedTransport : public ByteStream {
  public:
    explicit WrappedTransport(std::unique_ptr<ByteStream> inner) : inner_(std::move(inner)) {}
    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override {
        return inner_->read_some(buffer);
    }
    awaitable<error_code> write_all(BytesView data) override { return inner_->write_all(data); }
    awaitable<error_code> close_write() override { return inner_->close_write(); }
    void reset() override { inner_->reset(); }
    asio::any_io_executor get_executor() override { return inner_->get_executor(); }
    std::size_t ready_to_read() const override { return inner_->ready_to_read(); }
    std::size_t read_ready(std::span<std::uint8_t> buffer) override {
        return inner_->read_ready(buffer);
    }

  private:
    std::unique_ptr<ByteStream> inner_;
};

// A transport that counts the writes that reach it.
class CountedWrites : public WrappedTransport {
  public:
    CountedWrites(std::unique_ptr<ByteStream> inner, std::shared_ptr<std::size_t> writes)
        : WrappedTransport(std::move(inner)), writes_(std::move(writes)) {}
    awaitable<error_code> write_all(BytesView data) override {
        ++*writes_;
        return WrappedTransport::write_all(data);
    }

  private:
    std::shared_ptr<std::size_t> writes_;
};

// A transport whose writes never finish until it is reset, as over a peer that stopped reading
// the connection (its TCP window stays full) while it still sends.
class StalledWrites : public WrappedTransport {
  public:
    explicit StalledWrites(std::unique_ptr<ByteStream> inner)
        : WrappedTransport(std::move(inner)), stuck_(get_executor(), Clock::time_point::max()) {}
    awaitable<error_code> write_all(BytesView) override {
        co_await stuck_.async_wait(use_result);
        co_return make_error_code(asio::error::connection_reset);
    }
    void reset() override {
        stuck_.cancel();
        WrappedTransport::reset();
    }

  private:
    asio::steady_timer stuck_;
};

YamuxConfig quick_close() {
    YamuxConfig config;
    config.close_linger = Duration(50);
    return config;
}

// A server session whose remote is raw bytes: the test writes the remote's frames by hand and
// reads ours one by one.
struct RawRemote {
    using Wrap = std::function<std::unique_ptr<ByteStream>(std::unique_ptr<ByteStream>)>;
    std::unique_ptr<ByteStream> remote;
    Peer server;

    // `wrap`, if given, wraps the session's transport (to count or stall its writes).
    explicit RawRemote(asio::any_io_executor ex, const Wrap& wrap = nullptr,
                       YamuxConfig config = quick_close()) {
        auto pair = make_memory_stream_pair(ex);
        std::unique_ptr<ByteStream> transport = std::move(pair.first);
        if (wrap) transport = wrap(std::move(transport));
        server.session = std::make_shared<YamuxSession>(std::move(transport), false, config);
        server.start();
        remote = std::move(pair.second);
    }

    awaitable<error_code> send(yamux::FrameType type, std::uint16_t flags, BytesView payload) {
        auto length = static_cast<std::uint32_t>(payload.size());
        auto head = yamux::FrameHeader{type, flags, 1, length}.encode();
        Bytes frame(head.begin(), head.end());
        frame.insert(frame.end(), payload.begin(), payload.end());
        co_return co_await remote->write_all(frame);
    }

    struct Frame {
        yamux::FrameHeader header;
        Bytes payload;
    };
    awaitable<result<Frame>> next_frame() {
        auto head = co_await read_n(*remote, yamux::header_size);
        if (!head) co_return head.error();
        std::array<std::uint8_t, yamux::header_size> raw{};
        std::copy(head->begin(), head->end(), raw.begin());
        auto header = yamux::FrameHeader::decode(raw);
        if (!header) co_return make_error_code(net_errc::protocol_error);
        Frame frame{*header, {}};
        if (header->type == yamux::FrameType::data) {
            auto payload = co_await read_n(*remote, header->length);
            if (!payload) co_return payload.error();
            frame.payload = std::move(*payload);
        }
        co_return frame;
    }

    awaitable<bool> shutdown() {
        server.session->close();
        remote.reset();
        auto session = server.session;
        std::function<bool()> closed = [session] { return session->is_closed(); };
        co_return co_await wait_until(closed, io_limit);
    }
};

// The ACK of a stream the remote opened goes with our first frame on it (as rust-yamux sends
// it), not alone: the multistream answer and the ACK share a frame and a segment.
TEST(YamuxSession, TheAckTravelsWithTheFirstAnswer) {
    run([]() -> awaitable<void> {
        RawRemote r(co_await asio::this_coro::executor);
        const Bytes nothing;
        KEEL_CO_ASSERT_NO_ERROR(
            co_await r.send(yamux::FrameType::window_update, yamux::flag::syn, nothing));
        auto in = co_await r.server.accept();
        KEEL_CO_ASSERT(in != nullptr);
        const Bytes answer = to_bytes("answer");
        KEEL_CO_ASSERT_NO_ERROR(co_await in->write_all(answer));
        KEEL_CO_ASSERT_NO_ERROR(co_await in->write_all(answer));

        // Had the ACK gone out on its own, it would be the first frame here.
        for (std::uint16_t expected_flags : {yamux::flag::ack, std::uint16_t{0}}) {
            auto frame = co_await r.next_frame();
            KEEL_CO_ASSERT_OK(frame);
            EXPECT_EQ(frame->header.type, yamux::FrameType::data);
            EXPECT_EQ(frame->header.flags, expected_flags);
            EXPECT_EQ(frame->header.stream_id, 1u);
            EXPECT_EQ(frame->payload, answer);
        }
        EXPECT_TRUE(co_await r.shutdown());
    });
}

// The reader takes frames that came whole without waiting and completes the others, however the
// bytes are cut: a data frame split inside its header or its payload, two frames in one write,
// and the FIN of a data frame applied only after its payload is in.
TEST(YamuxSession, FramesCutAnywhereArriveWholeAndInOrder) {
    for (std::size_t cut : {std::size_t{1}, std::size_t{5}, std::size_t{13}, std::size_t{4096}}) {
        SCOPED_TRACE(cut);
        run([cut]() -> awaitable<void> {
            RawRemote r(co_await asio::this_coro::executor);
            const Bytes first = test::pattern(300, 1);
            const Bytes last = test::pattern(40, 2);
            Bytes wire;
            auto add = [&wire](std::uint16_t flags, const Bytes& payload) {
                auto length = static_cast<std::uint32_t>(payload.size());
                auto head = yamux::FrameHeader{yamux::FrameType::data, flags, 1, length}.encode();
                wire.insert(wire.end(), head.begin(), head.end());
                wire.insert(wire.end(), payload.begin(), payload.end());
            };
            add(yamux::flag::syn, first);
            add(yamux::flag::fin, last);
            for (std::size_t at = 0; at < wire.size(); at += cut) {
                std::size_t n = std::min(cut, wire.size() - at);
                KEEL_CO_ASSERT_NO_ERROR(
                    co_await r.remote->write_all(BytesView(wire).subspan(at, n)));
            }
            auto in = co_await r.server.accept();
            KEEL_CO_ASSERT(in != nullptr);
            auto got = co_await read_n(*in, first.size() + last.size());
            KEEL_CO_ASSERT_OK(got);
            Bytes expected = first;
            expected.insert(expected.end(), last.begin(), last.end());
            EXPECT_TRUE(*got == expected);
            std::array<std::uint8_t, 8> more{};
            auto eof = co_await with_deadline(in->read_some(more), io_limit);
            KEEL_CO_ASSERT(!eof);
            EXPECT_EQ(eof.error(), asio::error::eof);
            EXPECT_TRUE(co_await r.shutdown());
        });
    }
}

// A listener holding its multistream answer (HoldAnswer::always, as the Host negotiates inbound
// streams): a handler that writes first sends answer and record in one frame (identify); one that
// reads first sends the answer before it waits, so a dialer waiting for it is not stuck.
TEST(YamuxSession, AHeldAnswerGoesWithTheFirstWriteOrBeforeTheFirstWait) {
    run([]() -> awaitable<void> {
        // Header and proposal as a dialer sends them; the listener answers with the same bytes.
        const Bytes proposal = multistream_lazy(std::string("/echo/1.0.0")).send;
        const Bytes expected_answer = proposal;
        auto echo = [](std::string_view p) { return p == "/echo/1.0.0"; };
        const Bytes record = to_bytes("record");
        for (bool writes_first : {true, false}) {
            SCOPED_TRACE(writes_first ? "handler writes first" : "handler reads first");
            RawRemote r(co_await asio::this_coro::executor);
            // A dialer that waits for the answer: the proposal alone.
            KEEL_CO_ASSERT_NO_ERROR(
                co_await r.send(yamux::FrameType::data, yamux::flag::syn, proposal));
            auto in = co_await r.server.accept();
            KEEL_CO_ASSERT(in != nullptr);
            Preamble held;
            auto chosen = co_await multistream_handle(*in, echo, &held.send, HoldAnswer::always);
            KEEL_CO_ASSERT_OK(chosen);
            EXPECT_EQ(held.send, expected_answer);
            in->set_preamble(std::move(held));
            if (writes_first) {
                KEEL_CO_ASSERT_NO_ERROR(co_await in->write_all(record));
                auto frame = co_await r.next_frame();
                KEEL_CO_ASSERT_OK(frame);
                EXPECT_EQ(frame->header.flags, yamux::flag::ack);
                Bytes both = expected_answer;
                both.insert(both.end(), record.begin(), record.end());
                EXPECT_EQ(frame->payload, both) << "answer and record in one frame";
            } else {
                // The read waits for the request, which the dialer sends only once answered.
                auto dialer = [&]() -> awaitable<error_code> {
                    auto frame = co_await r.next_frame();
                    if (!frame) co_return frame.error();
                    EXPECT_EQ(frame->header.flags, yamux::flag::ack);
                    EXPECT_EQ(frame->payload, expected_answer);
                    co_return co_await r.send(yamux::FrameType::data, 0, record);
                };
                auto both = co_await (read_n(*in, record.size()) && dialer());
                KEEL_CO_ASSERT_OK(std::get<0>(both));
                EXPECT_EQ(*std::get<0>(both), record);
                EXPECT_FALSE(std::get<1>(both));
            }
            EXPECT_TRUE(co_await r.shutdown());
        }
    });
}

// Frames queued by a task that became ready after the writer was woken still leave with the
// frames that woke it: the writer lets the ready tasks run first (as on a new connection, where
// the answer to the remote's identify and our own identify request meet).
TEST(YamuxSession, FramesQueuedInTheSameTurnLeaveInOneWrite) {
    run([]() -> awaitable<void> {
        auto writes = std::make_shared<std::size_t>(0);
        RawRemote r(co_await asio::this_coro::executor,
                    [writes](std::unique_ptr<ByteStream> transport) -> std::unique_ptr<ByteStream> {
                        return std::make_unique<CountedWrites>(std::move(transport), writes);
                    });
        Bytes opens;
        for (std::uint32_t id : {1u, 3u}) {
            auto head = yamux::FrameHeader{yamux::FrameType::window_update, yamux::flag::syn, id, 0}
                            .encode();
            opens.insert(opens.end(), head.begin(), head.end());
        }
        KEEL_CO_ASSERT_NO_ERROR(co_await r.remote->write_all(opens));
        auto first = co_await r.server.accept();
        auto second = co_await r.server.accept();
        KEEL_CO_ASSERT(first != nullptr && second != nullptr);
        const std::size_t before = *writes;
        const Bytes answer = to_bytes("answer");
        KEEL_CO_ASSERT_NO_ERROR(co_await first->write_all(answer));  // the writer is woken
        // Posted: it runs after the writer's wake-up, which is already queued.
        auto ex = co_await asio::this_coro::executor;
        asio::post(ex, [ex, second] {
            asio::co_spawn(
                ex, [second]() -> awaitable<void> { co_await second->close_write(); },
                asio::detached);
        });
        for (int i = 0; i < 2; ++i) {
            auto frame = co_await r.next_frame();
            KEEL_CO_ASSERT_OK(frame);
        }
        EXPECT_EQ(*writes - before, 1u) << "the answer and the FIN went in separate writes";
        EXPECT_TRUE(co_await r.shutdown());
    });
}

Bytes ping_requests(std::uint32_t count) {
    Bytes wire;
    for (std::uint32_t opaque = 1; opaque <= count; ++opaque) {
        auto head =
            yamux::FrameHeader{yamux::FrameType::ping, yamux::flag::syn, 0, opaque}.encode();
        wire.insert(wire.end(), head.begin(), head.end());
    }
    return wire;
}

RawRemote::Wrap stall_writes() {
    return [](std::unique_ptr<ByteStream> transport) -> std::unique_ptr<ByteStream> {
        return std::make_unique<StalledWrites>(std::move(transport));
    };
}

// A peer that stops reading the connection but keeps it open: the write of our answer to its
// ping never finishes, and after write_timeout the session ends instead of holding the
// connection (and whatever queues behind that write) for as long as the peer likes.
TEST(YamuxSession, ThePeerThatStopsReadingTheConnectionLosesItAfterTheWriteTimeout) {
    run([]() -> awaitable<void> {
        YamuxConfig config = quick_close();
        config.write_timeout = Duration{200};
        RawRemote r(co_await asio::this_coro::executor, stall_writes(), config);
        const auto start = Clock::now();
        KEEL_CO_ASSERT_NO_ERROR(co_await r.remote->write_all(ping_requests(1)));
        auto inbox = r.server.inbox;
        std::function<bool()> closed = [inbox] { return inbox->closed; };
        KEEL_CO_ASSERT(co_await wait_until(closed, io_limit));
        EXPECT_GE(Clock::now() - start, Duration{200});
        EXPECT_EQ(inbox->close_reason, make_error_code(net_errc::write_queue_full));
        EXPECT_TRUE(r.server.session->is_closed());
    });
}

// Answers queued for a peer that does not read count what they hold, not only their 12 bytes:
// 2,000 pings (24,000 bytes of answers, each its own queued frame) go over a 64 KiB queue.
TEST(YamuxSession, QueuedControlFramesCountWhatTheyHold) {
    run([]() -> awaitable<void> {
        YamuxConfig config = quick_close();
        config.write_timeout = Duration{60'000};  // not this bound: the queue's
        config.max_write_queue = 64 * 1024;
        RawRemote r(co_await asio::this_coro::executor, stall_writes(), config);
        KEEL_CO_ASSERT_NO_ERROR(co_await r.remote->write_all(ping_requests(2000)));
        auto inbox = r.server.inbox;
        std::function<bool()> closed = [inbox] { return inbox->closed; };
        KEEL_CO_ASSERT(co_await wait_until(closed, io_limit));
        EXPECT_EQ(inbox->close_reason, make_error_code(net_errc::write_queue_full));
    });
}

}  // namespace
}  // namespace keel::net
