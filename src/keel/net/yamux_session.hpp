#pragma once
// A Yamux session: many streams over one secured connection, with per-stream flow control.
// Runs on one executor (single-threaded); a reader task demultiplexes frames into streams and a
// writer task drains one queue of outgoing frames, so writes never interleave.
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "keel/net/byte_stream.hpp"
#include "keel/net/condition.hpp"
#include "keel/net/yamux_frame.hpp"

namespace keel::net {

class YamuxStream;
inline constexpr std::string_view yamux_protocol_id = "/yamux/1.0.0";

// Bytes received and not yet read, across every session that shares it (a Host's): the
// whole-process bound on what remote peers can make us hold in receive buffers.
class ReceiveBudget {
  public:
    explicit ReceiveBudget(std::size_t limit) : limit_(limit) {}
    bool try_take(std::size_t n) {
        auto used = used_.load(std::memory_order_relaxed);
        do {
            if (used + n > limit_) return false;
        } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
        return true;
    }
    void give_back(std::size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
    std::size_t used() const { return used_.load(std::memory_order_relaxed); }
    std::size_t limit() const { return limit_; }

  private:
    std::size_t limit_;
    std::atomic<std::size_t> used_{0};  // sessions on several threads may share it
};

struct YamuxConfig {
    std::uint32_t initial_window = 256 * 1024;  // the spec's initial receive window per stream
    std::size_t max_inbound_streams = 512;  // open at once per connection (rust: 512); more reset
    std::size_t max_outbound_streams = 1024;
    // Outbound streams the remote has not acknowledged yet (no frame back on them): the spec's
    // ACK backlog. go-yamux resets streams past its 256 accept backlog, rust waits at 256.
    std::size_t max_unacknowledged_outbound = 256;
    std::size_t max_data_frame = 16 * 1024;  // we split writes into frames of at most this
    // Stream writers wait while this much is queued, so fast writers cannot run memory up.
    std::size_t write_high_watermark = 1024 * 1024;
    // Bytes queued for a peer that does not read (control frames only wait for nothing); past
    // this the session ends.
    std::size_t max_write_queue = 8 * 1024 * 1024;
    Duration close_linger{2000};  // after our GoAway, how long we wait for the peer to hang up
    // A stream write that cannot finish within this (the peer does not read, so the window or
    // the session's queue stays full) resets the stream: a peer cannot pin an answer forever.
    // A transport write (a batch of frames) that cannot finish within it ends the session: the
    // peer stopped reading the connection (go-yamux's ConnectionWriteTimeout, also 10 s).
    Duration write_timeout{10'000};
    // Received bytes not yet read, per connection: while it is reached, new inbound streams are
    // refused (each stream may still fill its own 256 KiB window: that is the protocol).
    std::size_t max_buffered_per_connection = 8 * 1024 * 1024;
    // The hard bound, across connections (nullptr: none): data that would go over it resets the
    // stream it came on (dropped, never buffered), and new inbound streams are refused, on
    // connections holding more than their reserve.
    std::shared_ptr<ReceiveBudget> process_budget;
    // What each connection may hold whatever the process budget says, so that a peer that sends
    // a request now and then is served while others fill the budget.
    std::size_t connection_reserve = 64 * 1024;
};

class YamuxSession : public std::enable_shared_from_this<YamuxSession> {
  public:
    using InboundHandler = std::function<void(std::shared_ptr<YamuxStream>)>;
    using CloseHandler = std::function<void(error_code)>;

    YamuxSession(std::unique_ptr<ByteStream> transport, bool is_client, YamuxConfig config = {});
    ~YamuxSession();

    // Starts the reader and writer tasks. Handlers run on the session's executor.
    void start(InboundHandler on_inbound, CloseHandler on_close);
    result<std::shared_ptr<YamuxStream>> open_stream();
    // The ACK backlog is full: open_stream() must wait (wait_to_open) first.
    bool backlog_full() const {
        return unacknowledged_outbound_ >= config_.max_unacknowledged_outbound;
    }
    // Returns once the backlog has room (or the session ends: connection_closed). Others may
    // take the room first: check backlog_full() again, with no suspension before open_stream().
    awaitable<error_code> wait_to_open();
    // Round trip of a Yamux ping frame.
    awaitable<result<Duration>> ping();
    // GoAway(normal), flush, then hang up.
    void close();
    bool is_closed() const { return closed_; }
    std::size_t stream_count() const { return streams_.size(); }
    std::size_t buffered() const { return buffered_; }
    // When the last frame arrived from the peer (or the session started).
    Clock::time_point last_received() const { return last_received_; }
    // Streams reset because a receive budget was full, and inbound streams refused for it.
    std::uint64_t budget_resets() const { return budget_resets_; }
    const YamuxConfig& config() const { return config_; }
    asio::any_io_executor get_executor() { return transport_->get_executor(); }

  private:
    friend class YamuxStream;

    void send_frame(yamux::FrameType type, std::uint16_t flags, std::uint32_t stream_id,
                    std::uint32_t length, BytesView payload = {});
    void fail(error_code reason, std::optional<yamux::GoAwayCode> go_away);
    void forget(std::uint32_t stream_id);
    void note_acknowledged(YamuxStream& stream);
    bool over_budget(std::size_t more) const;
    // Accounts n received bytes (process budget, else the connection's reserve); false when
    // neither has room.
    bool take_buffered(std::size_t n);
    void release_buffered(std::size_t n);
    void wake_drain_waiters();
    void arm_linger();
    // Ends the session if the batch being written is not written by write_due_.
    void watch_write();
    awaitable<void> read_loop();
    awaitable<void> write_loop();
    // What the reader does with a frame's payload once on_frame has taken its header.
    struct Payload {
        std::shared_ptr<YamuxStream> into;  // read it into this stream, then apply the flags
        std::uint32_t discard = 0;          // or read this many bytes and drop them
    };
    // A frame's header, without waiting: every frame but a data frame's payload is done here.
    result<Payload> on_frame(const yamux::FrameHeader& header);
    // A data frame's payload into its stream, if the transport holds it whole already; if not,
    // the part it holds, for read_data to complete.
    std::optional<Bytes> take_ready_data(YamuxStream& stream, const yamux::FrameHeader& header);
    awaitable<error_code> read_data(std::shared_ptr<YamuxStream> stream, yamux::FrameHeader header,
                                    Bytes payload);
    void data_arrived(YamuxStream& stream, const yamux::FrameHeader& header);
    void apply_flags(YamuxStream& stream, std::uint16_t flags);
    awaitable<error_code> discard(std::uint32_t length);

    std::unique_ptr<ByteStream> transport_;
    bool is_client_;
    YamuxConfig config_;
    InboundHandler on_inbound_;
    CloseHandler on_close_;
    std::unordered_map<std::uint32_t, std::shared_ptr<YamuxStream>> streams_;
    std::uint32_t next_stream_id_;
    std::size_t inbound_count_ = 0;
    std::size_t outbound_count_ = 0;
    std::size_t unacknowledged_outbound_ = 0;
    // wait_to_open()'s waiters (made on first use: most sessions never fill the backlog).
    std::unique_ptr<Condition> backlog_;
    struct PendingPing {
        explicit PendingPing(asio::any_io_executor ex) : timer(ex) {}
        asio::steady_timer timer;
        bool answered = false;
    };

    std::deque<Bytes> write_queue_;
    std::size_t queued_bytes_ = 0;
    Condition queued_;  // a frame was queued, or the session is closing: the writer looks
    // Stream writers waiting for the queue to shrink; each waits on its own condition.
    std::vector<std::weak_ptr<YamuxStream>> drain_waiters_;
    std::size_t buffered_ = 0;      // received, not yet read, over all streams
    std::size_t reserve_used_ = 0;  // of buffered_, what is held on the connection's reserve
    Clock::time_point last_received_ = Clock::now();
    std::uint64_t budget_resets_ = 0;
    asio::steady_timer linger_;  // bounds how long a closing session waits for the peer
    // One timer for every transport write: armed by the first, it looks again when the batch in
    // flight is due, so a busy session costs one wake-up per write_timeout, not one per write.
    asio::steady_timer write_watchdog_;
    Clock::time_point write_due_ = Clock::time_point::max();  // max: no write in flight
    bool watchdog_armed_ = false;
    std::unordered_map<std::uint32_t, std::shared_ptr<PendingPing>> pings_;
    std::uint32_t next_ping_ = 1;
    bool closing_ = false;  // our GoAway is queued; hang up once it is written
    bool closed_ = false;
    bool writer_done_ = false;
    bool remote_gone_away_ = false;
    error_code close_reason_;
};

}  // namespace keel::net
