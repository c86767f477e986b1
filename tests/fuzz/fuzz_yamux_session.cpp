// A whole Yamux session (Keel's, client or server) fed by a fuzzer-driven peer: the input is a
// list of operations, each either frames the peer sends (data with SYN/ACK/FIN/RST on a few
// stream IDs, window updates, pings, GoAway, or raw bytes) or something Keel's side does (open a
// stream and write, read what a stream holds, ping, reset, close the session). Inbound streams
// are accepted and, depending on the input, read or left unread. The session runs with a small
// process-wide receive budget. Properties, after every operation: the budget never counts more
// than its limit and the session never holds more than the budget plus its connection reserve;
// once everything is gone the budget is back to zero (no byte accounted twice or never given
// back).
#include <set>

#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/yamux_frame.hpp"
#include "keel/net/yamux_session.hpp"
#include "keel/net/yamux_stream.hpp"

using namespace keel;
using namespace keel::net;

namespace {

constexpr std::size_t budget_limit = 192 * 1024;
constexpr std::size_t reserve = 32 * 1024;

Bytes frame(yamux::FrameType type, std::uint16_t flags, std::uint32_t id, std::uint32_t length,
            BytesView payload = {}) {
    yamux::FrameHeader h{type, flags, id, length};
    auto header = h.encode();
    Bytes out(header.begin(), header.end());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    auto budget = std::make_shared<ReceiveBudget>(budget_limit);
    {
        const bool is_client = in.flag();
        const std::uint8_t read_policy = in.byte();  // bit i: read inbound stream i (mod 8)
        YamuxConfig config;
        config.max_inbound_streams = 8;
        config.max_outbound_streams = 8;
        config.max_unacknowledged_outbound = 4;
        config.max_buffered_per_connection = 128 * 1024;
        config.max_write_queue = 256 * 1024;
        config.write_high_watermark = 64 * 1024;
        config.process_budget = budget;
        config.connection_reserve = reserve;

        asio::io_context io;
        auto pair = make_memory_stream_pair(io.get_executor());
        auto& remote = pair.second;
        auto session = std::make_shared<YamuxSession>(std::move(pair.first), is_client, config);
        std::vector<std::shared_ptr<YamuxStream>> streams;  // inbound and outbound, held by us
        std::size_t inbound_seen = 0;
        std::set<YamuxStream*> reading;  // one reader per stream, as ByteStream requires
        auto read_all = [&io, &reading](std::shared_ptr<YamuxStream> s) {
            if (!reading.insert(s.get()).second) return;
            fuzz::spawn(io, [s]() -> awaitable<void> {
                std::array<std::uint8_t, 4096> buffer{};
                while (co_await s->read_some(buffer)) {
                }
            });
        };
        session->start(
            [&](std::shared_ptr<YamuxStream> s) {
                if (read_policy & (1u << (inbound_seen++ % 8))) read_all(s);
                streams.push_back(std::move(s));
            },
            [](error_code) {});

        auto send = [&](Bytes bytes) {
            fuzz::spawn(io, [&remote, bytes = std::move(bytes)]() -> awaitable<void> {
                co_await remote->write_all(bytes);
            });
        };
        auto check = [&] {
            KEEL_FUZZ_CHECK(budget->used() <= budget->limit());
            KEEL_FUZZ_CHECK(session->buffered() <= budget_limit + reserve);
        };

        for (int op = 0; op < 256 && !in.empty(); ++op) {
            const std::uint8_t kind = in.byte();
            // Peer stream IDs: a few of each parity, so streams are reused, opened and refused.
            const std::uint32_t id = in.byte() % 16;
            switch (kind % 12) {
                case 0: {  // raw bytes
                    auto raw = in.chunk();
                    send(Bytes(raw.begin(), raw.end()));
                    break;
                }
                case 1: {  // data, with the header's length matching the payload
                    auto flags = static_cast<std::uint16_t>(in.byte() & 0xf);
                    auto payload = in.chunk();
                    send(frame(yamux::FrameType::data, flags, id,
                               static_cast<std::uint32_t>(payload.size()), payload));
                    break;
                }
                case 2: {  // a large data frame (window and budget overruns), zeros
                    auto flags = static_cast<std::uint16_t>(in.byte() & 0xf);
                    std::size_t length = std::size_t{in.u16()} * 8;
                    Bytes payload(length);
                    send(frame(yamux::FrameType::data, flags, id,
                               static_cast<std::uint32_t>(length), payload));
                    break;
                }
                case 3: {
                    auto flags = static_cast<std::uint16_t>(in.byte() & 0xf);
                    send(frame(yamux::FrameType::window_update, flags, id, in.u32()));
                    break;
                }
                case 4:
                    send(frame(yamux::FrameType::ping, in.byte() & 0x3, 0, in.u32()));
                    break;
                case 5:
                    send(frame(yamux::FrameType::go_away, 0, 0, in.byte() % 4));
                    break;
                case 6: {  // any header, without its payload
                    auto flags = in.u16();
                    send(frame(static_cast<yamux::FrameType>(in.byte() % 5), flags, in.u32(),
                               in.u32()));
                    break;
                }
                case 7: {  // Keel opens a stream and writes
                    if (session->backlog_full()) break;
                    auto s = session->open_stream();
                    if (!s) break;
                    auto payload = in.chunk();
                    auto stream = *s;
                    streams.push_back(stream);
                    fuzz::spawn(io,
                                [stream, bytes = Bytes(payload.begin(), payload.end())]()
                                    -> awaitable<void> { co_await stream->write_all(bytes); });
                    break;
                }
                case 8:  // Keel reads stream i
                    if (!streams.empty()) read_all(streams[id % streams.size()]);
                    break;
                case 9:
                    if (!streams.empty()) {
                        auto& s = streams[id % streams.size()];
                        if (in.flag()) {
                            s->reset();
                        } else if (in.flag()) {
                            s->close_read();
                        } else {
                            fuzz::spawn(io,
                                        [s]() -> awaitable<void> { co_await s->close_write(); });
                        }
                    }
                    break;
                case 10:
                    fuzz::spawn(io, [session]() -> awaitable<void> { co_await session->ping(); });
                    break;
                case 11:
                    if (in.byte() == 0) session->close();
                    break;
            }
            fuzz::settle(io);
            check();
        }
        // The peer hangs up; whatever is left ends with the session.
        remote->reset();
        fuzz::settle(io);
        check();
        streams.clear();
        session.reset();
    }
    // The io_context is gone with every task: all received bytes must be accounted back.
    KEEL_FUZZ_CHECK(budget->used() == 0);
    return 0;
}
