#include "keel/net/multistream.hpp"

#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/base/varint.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using namespace asio::experimental::awaitable_operators;
using test::run;

// One multistream message on the wire: uvarint(len) text '\n'.
Bytes message(std::string_view text) {
    std::string line(text);
    line += '\n';
    return length_prefixed(as_bytes(line));
}

void append(Bytes& out, const Bytes& more) {
    out.insert(out.end(), more.begin(), more.end());
}

// Reads one message as the peer would and returns its text without the '\n'.
awaitable<result<std::string>> read_line(ByteStream& stream) {
    auto m = co_await read_length_prefixed(stream, max_multistream_message);
    if (!m) co_return m.error();
    if (m->empty() || m->back() != '\n') co_return make_error_code(net_errc::malformed_message);
    co_return std::string(m->begin(), m->end() - 1);
}

std::function<bool(std::string_view)> supports(std::vector<std::string> protocols) {
    return [protocols = std::move(protocols)](std::string_view p) {
        for (const auto& s : protocols)
            if (s == p) return true;
        return false;
    };
}

// The dialer, then a half-close, so a listener still waiting for proposals sees eof.
awaitable<result<std::string>> select_and_hang_up(ByteStream& stream,
                                                  const std::vector<std::string>& protocols) {
    auto chosen = co_await multistream_select(stream, protocols);
    co_await stream.close_write();
    co_return chosen;
}

TEST(Multistream, DialerAndListenerAgree) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        std::vector<std::string> proposals{"/echo/1.0.0"};
        auto handler = supports({"/ping/1.0.0", "/echo/1.0.0"});
        auto both = co_await (multistream_select(*pair.first, proposals) &&
                              multistream_handle(*pair.second, handler));
        auto& dialer = std::get<0>(both);
        auto& listener = std::get<1>(both);
        KEEL_CO_ASSERT_OK(dialer);
        KEEL_CO_ASSERT_OK(listener);
        EXPECT_EQ(*dialer, "/echo/1.0.0");
        EXPECT_EQ(*listener, "/echo/1.0.0");

        // Nothing of the negotiation is left over in either direction.
        Bytes hi = to_bytes("hi");
        Bytes yo = to_bytes("yo");
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(hi));
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.second->write_all(yo));
        std::array<std::uint8_t, 2> buf{};
        KEEL_CO_ASSERT_NO_ERROR(co_await read_exact(*pair.second, buf));
        EXPECT_EQ(as_chars(buf), "hi");
        KEEL_CO_ASSERT_NO_ERROR(co_await read_exact(*pair.first, buf));
        EXPECT_EQ(as_chars(buf), "yo");
    });
}

TEST(Multistream, ListenerAnswersNaThenAcceptsSecondProposal) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        std::vector<std::string> proposals{"/yamux/1.0.0", "/mplex/6.7.0"};
        auto handler = supports({"/mplex/6.7.0"});
        auto both = co_await (multistream_select(*pair.first, proposals) &&
                              multistream_handle(*pair.second, handler));
        KEEL_CO_ASSERT_OK(std::get<0>(both));
        KEEL_CO_ASSERT_OK(std::get<1>(both));
        EXPECT_EQ(*std::get<0>(both), "/mplex/6.7.0");
        EXPECT_EQ(*std::get<1>(both), "/mplex/6.7.0");
    });
}

TEST(Multistream, ListenerAnswerSequenceOnTheWire) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *pair.first;
        Bytes out = message(multistream_header);
        append(out, message("/a"));
        append(out, message("/b"));
        KEEL_CO_ASSERT_NO_ERROR(co_await dialer.write_all(out));
        auto handler = supports({"/b"});
        auto chosen = co_await multistream_handle(*pair.second, handler);
        KEEL_CO_ASSERT_OK(chosen);
        EXPECT_EQ(*chosen, "/b");

        std::vector<std::string> answers;
        for (int i = 0; i < 3; ++i) {
            auto line = co_await read_line(dialer);
            KEEL_CO_ASSERT_OK(line);
            answers.push_back(*line);
        }
        EXPECT_EQ(answers, (std::vector<std::string>{std::string(multistream_header), "na", "/b"}));
    });
}

// A dialer that sends its header, waits for the listener's, then proposes `protocol`; returns
// the listener's answer.
awaitable<result<std::string>> propose_after_header(ByteStream& dialer, std::string protocol) {
    if (auto ec = co_await dialer.write_all(message(multistream_header))) co_return ec;
    auto header = co_await read_line(dialer);
    if (!header) co_return header.error();
    if (auto ec = co_await dialer.write_all(message(protocol))) co_return ec;
    auto answer = co_await read_line(dialer);
    co_return answer;
}

// A dialer's header and proposal arrive together (every implementation pipelines them): the
// listener answers with its header and the protocol in one write, one TCP segment.
TEST(Multistream, ListenerAnswersAPipelinedProposalInOneWrite) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        auto probe = std::make_unique<test::ProbeStream>(std::move(pair.second));
        auto log = probe->log();
        log->ready_to_read = 1;  // the proposal came with the header
        Bytes out = message(multistream_header);
        append(out, message("/b"));
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
        auto handler = supports({"/b"});
        auto chosen = co_await multistream_handle(*probe, handler);
        KEEL_CO_ASSERT_OK(chosen);
        EXPECT_EQ(log->writes, 1u);
        Bytes expected = message(multistream_header);
        append(expected, message("/b"));
        EXPECT_EQ(log->written, expected);
    });
}

// A dialer that waits for the listener's header before it proposes still gets it: the listener
// writes its header alone when nothing more has arrived.
TEST(Multistream, ListenerSendsItsHeaderToADialerThatWaitsForIt) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *pair.first;
        auto handler = supports({"/b"});
        auto both = co_await (
            with_deadline(propose_after_header(dialer, std::string("/b")), Duration{5000}) &&
            with_deadline(multistream_handle(*pair.second, handler), Duration{5000}));
        KEEL_CO_ASSERT_OK(std::get<0>(both));
        EXPECT_EQ(*std::get<0>(both), "/b");
        KEEL_CO_ASSERT_OK(std::get<1>(both));
    });
}

TEST(Multistream, DialerGetsProtocolNotSupportedWhenAllAreRefused) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        std::vector<std::string> proposals{"/x", "/y"};
        auto handler = supports({"/z"});
        auto both = co_await (select_and_hang_up(*pair.first, proposals) &&
                              multistream_handle(*pair.second, handler));
        KEEL_CO_ASSERT(!std::get<0>(both));
        EXPECT_EQ(std::get<0>(both).error(), net_errc::protocol_not_supported);
        KEEL_CO_ASSERT(!std::get<1>(both));
        EXPECT_EQ(std::get<1>(both).error(), asio::error::eof);
    });
}

// The dialer pipelines header, proposal and its first protocol bytes in a single write; the
// listener must take exactly the two messages and leave the rest for the protocol.
TEST(Multistream, ListenerHandlesPipelinedHeaderProposalAndOptimisticData) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        Bytes out = message(multistream_header);
        append(out, message("/echo/1.0.0"));
        Bytes early = to_bytes("optimistic payload");
        append(out, early);
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));

        auto handler = supports({"/echo/1.0.0"});
        auto chosen = co_await multistream_handle(*pair.second, handler);
        KEEL_CO_ASSERT_OK(chosen);
        EXPECT_EQ(*chosen, "/echo/1.0.0");

        Bytes got(early.size());
        KEEL_CO_ASSERT_NO_ERROR(co_await read_exact(*pair.second, got));
        EXPECT_EQ(got, early);

        // The listener's two answers, and nothing else, went back.
        auto header = co_await read_line(*pair.first);
        KEEL_CO_ASSERT_OK(header);
        EXPECT_EQ(*header, multistream_header);
        auto accepted = co_await read_line(*pair.first);
        KEEL_CO_ASSERT_OK(accepted);
        EXPECT_EQ(*accepted, "/echo/1.0.0");
    });
}

// Same from the dialer's side: multistream_select writes header and proposal in one write and
// the listener answers with header and echo in one write; the data the dialer sends right after
// its proposal reaches the listener's protocol.
TEST(Multistream, DialerPipelinesAndOptimisticDataSurvives) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        test::ProbeStream dialer(std::move(pair.first));
        auto log = dialer.log();
        std::vector<std::string> proposals{"/echo/1.0.0"};
        auto handler = supports({"/echo/1.0.0"});
        auto both = co_await (multistream_select(dialer, proposals) &&
                              multistream_handle(*pair.second, handler));
        KEEL_CO_ASSERT_OK(std::get<0>(both));
        KEEL_CO_ASSERT_OK(std::get<1>(both));
        Bytes expected = message(multistream_header);
        append(expected, message("/echo/1.0.0"));
        EXPECT_EQ(log->written, expected);
    });
}

// A lazy dialer settles on its one protocol at once: header and proposal go out with its first
// message (the listener leaves that message to the protocol: see the pipelined test above), and
// it takes the listener's answer off before its first read of the protocol.
TEST(Multistream, LazyDialerProposalAndTheListenersAnswer) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        auto lazy = multistream_lazy(std::string("/noise"));
        Bytes expected = message(multistream_header);
        append(expected, message("/noise"));
        EXPECT_EQ(lazy.send, expected);
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(lazy.send));
        auto handler = supports({"/noise"});
        KEEL_CO_ASSERT_OK(co_await multistream_handle(*pair.second, handler));
        Bytes reply = to_bytes("the protocol's first reply");
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.second->write_all(reply));
        KEEL_CO_ASSERT_NO_ERROR(co_await lazy.receive(*pair.first));
        Bytes got(reply.size());
        KEEL_CO_ASSERT_NO_ERROR(co_await read_exact(*pair.first, got));
        EXPECT_EQ(got, reply);
    });
}

// A listener that does not speak the protocol answers "na": the lazy dialer learns it as
// protocol_not_supported (its first message, already sent, is the listener's problem).
TEST(Multistream, LazyDialerGetsProtocolNotSupportedFromNa) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        auto lazy = multistream_lazy(std::string("/noise"));
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(lazy.send));
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->close_write());
        auto handler = supports({"/tls/1.0.0"});
        auto both =
            co_await (lazy.receive(*pair.first) && multistream_handle(*pair.second, handler));
        EXPECT_EQ(std::get<0>(both), net_errc::protocol_not_supported);
        KEEL_CO_ASSERT(!std::get<1>(both));
    });
}

// With somewhere to hold it, the listener keeps its answer when the dialer's next message is
// already there (for the protocol's first write to take along) and writes nothing itself...
TEST(Multistream, ListenerHoldsItsAnswerForALazyDialer) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        test::ProbeStream listener(std::move(pair.second));
        auto log = listener.log();
        Bytes out = multistream_lazy(std::string("/noise")).send;
        append(out, to_bytes("first message"));
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
        auto handler = supports({"/noise"});
        Bytes held;
        auto chosen = co_await multistream_handle(listener, handler, &held);
        KEEL_CO_ASSERT_OK(chosen);
        EXPECT_EQ(log->writes, 0u);
        Bytes expected = message(multistream_header);
        append(expected, message("/noise"));
        EXPECT_EQ(held, expected);
    });
}

// ...and answers at once a dialer that waits for the answer before it sends more.
TEST(Multistream, ListenerAnswersAtOnceWhenNothingFollowsTheProposal) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        test::ProbeStream listener(std::move(pair.second));
        auto log = listener.log();
        auto lazy = multistream_lazy(std::string("/noise"));
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(lazy.send));
        auto handler = supports({"/noise"});
        Bytes held;
        auto chosen = co_await multistream_handle(listener, handler, &held);
        KEEL_CO_ASSERT_OK(chosen);
        EXPECT_EQ(log->writes, 1u);
        EXPECT_TRUE(held.empty());
        KEEL_CO_ASSERT_NO_ERROR(co_await lazy.receive(*pair.first));
    });
}

TEST(Multistream, GarbageHeaderIsRejected) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        {  // listener side
            auto pair = make_memory_stream_pair(ex);
            Bytes out = message("/garbage/1.0.0");
            append(out, message("/echo/1.0.0"));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
            auto handler = supports({"/echo/1.0.0"});
            auto r = co_await multistream_handle(*pair.second, handler);
            KEEL_CO_ASSERT(!r);
            EXPECT_EQ(r.error(), net_errc::bad_multistream_header);
        }
        {  // dialer side: the listener speaks something else
            auto pair = make_memory_stream_pair(ex);
            Bytes out = message("/multistream/2.0.0");
            append(out, message("/echo/1.0.0"));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.second->write_all(out));
            std::vector<std::string> proposals{"/echo/1.0.0"};
            auto r = co_await multistream_select(*pair.first, proposals);
            KEEL_CO_ASSERT(!r);
            EXPECT_EQ(r.error(), net_errc::bad_multistream_header);
        }
    });
}

TEST(Multistream, MessageWithoutNewlineIsMalformed) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto handler = supports({"/echo/1.0.0"});
        {  // proposal without '\n'
            auto pair = make_memory_stream_pair(ex);
            Bytes out = message(multistream_header);
            append(out, length_prefixed(as_bytes("/echo/1.0.0")));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
            auto r = co_await multistream_handle(*pair.second, handler);
            KEEL_CO_ASSERT(!r);
            EXPECT_EQ(r.error(), net_errc::malformed_message);
        }
        {  // header without '\n'
            auto pair = make_memory_stream_pair(ex);
            Bytes out = length_prefixed(as_bytes(multistream_header));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
            auto r = co_await multistream_handle(*pair.second, handler);
            KEEL_CO_ASSERT(!r);
            EXPECT_EQ(r.error(), net_errc::malformed_message);
        }
        {  // empty message (length 0)
            auto pair = make_memory_stream_pair(ex);
            Bytes out = message(multistream_header);
            out.push_back(0);
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
            auto r = co_await multistream_handle(*pair.second, handler);
            KEEL_CO_ASSERT(!r);
            EXPECT_EQ(r.error(), net_errc::malformed_message);
        }
        {  // dialer side: the listener's answer lacks '\n'
            auto pair = make_memory_stream_pair(ex);
            Bytes out = message(multistream_header);
            append(out, length_prefixed(as_bytes("/echo/1.0.0")));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.second->write_all(out));
            std::vector<std::string> proposals{"/echo/1.0.0"};
            auto r = co_await multistream_select(*pair.first, proposals);
            KEEL_CO_ASSERT(!r);
            EXPECT_EQ(r.error(), net_errc::malformed_message);
        }
    });
}

TEST(Multistream, MessageOverLimitIsTooLarge) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto handler = supports({"/echo/1.0.0"});
        {
            // A proposal of exactly max_multistream_message bytes (with '\n') is still read.
            auto pair = make_memory_stream_pair(ex);
            std::string longest(max_multistream_message - 1, 'p');
            Bytes out = message(multistream_header);
            append(out, message(longest));
            append(out, message("/echo/1.0.0"));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
            auto r = co_await multistream_handle(*pair.second, handler);
            KEEL_CO_ASSERT_OK(r);
            EXPECT_EQ(*r, "/echo/1.0.0");
        }
        {
            // One byte more is refused from the prefix alone, without waiting for the body.
            auto pair = make_memory_stream_pair(ex);
            Bytes out = message(multistream_header);
            append_uvarint(out, max_multistream_message + 1);
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
            auto r = co_await multistream_handle(*pair.second, handler);
            KEEL_CO_ASSERT(!r);
            EXPECT_EQ(r.error(), net_errc::message_too_large);
        }
    });
}

TEST(Multistream, ListenerGivesUpAfterMaxProposals) {
    run([]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto handler = supports({"/echo/1.0.0"});
        {
            // max-1 refusals, then a supported proposal: still accepted.
            auto pair = make_memory_stream_pair(ex);
            Bytes out = message(multistream_header);
            for (std::size_t i = 0; i + 1 < max_multistream_proposals; ++i)
                append(out, message("/nope/" + std::to_string(i)));
            append(out, message("/echo/1.0.0"));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
            auto r = co_await multistream_handle(*pair.second, handler);
            KEEL_CO_ASSERT_OK(r);
            EXPECT_EQ(*r, "/echo/1.0.0");
        }
        {
            // max refusals: the listener hangs up even though the next proposal would match.
            auto pair = make_memory_stream_pair(ex);
            Bytes out = message(multistream_header);
            for (std::size_t i = 0; i < max_multistream_proposals; ++i)
                append(out, message("/nope/" + std::to_string(i)));
            append(out, message("/echo/1.0.0"));
            KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(out));
            auto r = co_await multistream_handle(*pair.second, handler);
            KEEL_CO_ASSERT(!r);
            EXPECT_EQ(r.error(), net_errc::too_many_proposals);

            auto header = co_await read_line(*pair.first);
            KEEL_CO_ASSERT_OK(header);
            std::size_t na = 0;
            for (std::size_t i = 0; i < max_multistream_proposals; ++i) {
                auto line = co_await read_line(*pair.first);
                KEEL_CO_ASSERT_OK(line);
                if (*line == "na") ++na;
            }
            EXPECT_EQ(na, max_multistream_proposals);
        }
    });
}

}  // namespace
}  // namespace keel::net
