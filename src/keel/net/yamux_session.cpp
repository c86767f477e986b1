#include "keel/net/yamux_session.hpp"

#include <algorithm>

#include "keel/net/log.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/yamux_stream.hpp"

namespace keel::net {

using yamux::FrameHeader;
using yamux::FrameType;
namespace flag = yamux::flag;

namespace {
// The writer coalesces queued frames into one transport write of at most this many bytes.
constexpr std::size_t max_write_batch = 256 * 1024;
// What a queued frame costs besides its bytes (its vector's block, the deque's slot). Counted, so
// that max_write_queue bounds memory when the queue is all 12-byte control frames (a peer that
// sends pings or window updates and reads nothing).
constexpr std::size_t queued_frame_overhead = 64;
}  // namespace

YamuxSession::YamuxSession(std::unique_ptr<ByteStream> transport, bool is_client,
                           YamuxConfig config)
    : transport_(std::move(transport)),
      is_client_(is_client),
      config_(config),
      next_stream_id_(is_client ? 1 : 2),
      queued_(transport_->get_executor()),
      linger_(transport_->get_executor()),
      write_watchdog_(transport_->get_executor()) {}

YamuxSession::~YamuxSession() = default;

void YamuxSession::start(InboundHandler on_inbound, CloseHandler on_close) {
    on_inbound_ = std::move(on_inbound);
    on_close_ = std::move(on_close);
    auto self = shared_from_this();
    asio::co_spawn(
        get_executor(), [self]() { return self->read_loop(); }, asio::detached);
    asio::co_spawn(
        get_executor(), [self]() { return self->write_loop(); }, asio::detached);
}

result<std::shared_ptr<YamuxStream>> YamuxSession::open_stream() {
    if (closed_ || closing_ || remote_gone_away_)
        return make_error_code(net_errc::connection_closed);
    if (outbound_count_ >= config_.max_outbound_streams)
        return make_error_code(net_errc::stream_limit);
    std::uint32_t id = next_stream_id_;
    if (id > 0xfffffffd) return make_error_code(net_errc::stream_limit);  // IDs exhausted
    next_stream_id_ += 2;
    auto stream = std::make_shared<YamuxStream>(shared_from_this(), id, false);
    streams_.emplace(id, stream);
    ++outbound_count_;
    ++unacknowledged_outbound_;
    // A window update with SYN opens the stream without sending data.
    send_frame(FrameType::window_update, flag::syn, id, 0);
    return stream;
}

awaitable<error_code> YamuxSession::wait_to_open() {
    auto self = shared_from_this();
    auto may_open = [this] {
        return unacknowledged_outbound_ < config_.max_unacknowledged_outbound || closed_ ||
               closing_ || remote_gone_away_;
    };
    if (!may_open()) {
        if (!backlog_) backlog_ = std::make_unique<Condition>(get_executor());
        const bool opened = co_await backlog_->until(may_open);  // a statement: condition.hpp
        if (!opened) co_return make_error_code(net_errc::timeout);
    }
    if (closed_ || closing_ || remote_gone_away_)
        co_return make_error_code(net_errc::connection_closed);
    co_return error_code{};
}

void YamuxSession::note_acknowledged(YamuxStream& stream) {
    if (stream.inbound() || stream.acknowledged_) return;
    stream.acknowledged_ = true;
    --unacknowledged_outbound_;
    if (backlog_) backlog_->notify();
}

awaitable<result<Duration>> YamuxSession::ping() {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (closed_) co_return make_error_code(net_errc::connection_closed);
    auto self = shared_from_this();
    std::uint32_t opaque = next_ping_++;
    auto waiter = std::make_shared<PendingPing>(get_executor());
    pings_.emplace(opaque, waiter);
    auto start = Clock::now();
    send_frame(FrameType::ping, flag::syn, 0, opaque);
    waiter->timer.expires_at(Clock::time_point::max());
    co_await waiter->timer.async_wait(use_result);
    pings_.erase(opaque);
    if (waiter->answered) co_return std::chrono::duration_cast<Duration>(Clock::now() - start);
    if (closed_) co_return make_error_code(net_errc::connection_closed);
    co_return make_error_code(asio::error::operation_aborted);
}

void YamuxSession::close() {
    if (closed_ || closing_) return;
    send_frame(FrameType::go_away, 0, 0, static_cast<std::uint32_t>(yamux::GoAwayCode::normal));
    closing_ = true;
    queued_.notify();
    arm_linger();  // if the peer never hangs up, end it ourselves
}

void YamuxSession::arm_linger() {
    // Re-arming cancels the previous wait; cancelling (when the transport is already gone) ends
    // it without action, so a finished session does not keep its executor busy.
    linger_.expires_after(config_.close_linger);
    auto self = shared_from_this();
    asio::co_spawn(
        get_executor(),
        [self]() -> awaitable<void> {
            auto [ec] = co_await self->linger_.async_wait(use_result);
            if (ec) co_return;
            self->fail(make_error_code(net_errc::connection_closed), std::nullopt);
            self->transport_->reset();
        },
        asio::detached);
}

void YamuxSession::watch_write() {
    if (watchdog_armed_ || closed_) return;
    watchdog_armed_ = true;
    write_watchdog_.expires_at(write_due_);
    write_watchdog_.async_wait([weak = weak_from_this()](error_code ec) {
        auto self = weak.lock();
        if (!self) return;
        self->watchdog_armed_ = false;
        if (ec || self->closed_ || self->write_due_ == Clock::time_point::max()) return;
        if (Clock::now() < self->write_due_) {
            self->watch_write();  // a later batch is in flight: look again when it is due
            return;
        }
        log().info("event=yamux_write_stalled timeout_ms={}", self->config_.write_timeout.count());
        self->fail(make_error_code(net_errc::write_queue_full), std::nullopt);
    });
}

void YamuxSession::send_frame(FrameType type, std::uint16_t flags, std::uint32_t stream_id,
                              std::uint32_t length, BytesView payload) {
    if (closed_) return;
    FrameHeader header{type, flags, stream_id, length};
    auto head = header.encode();
    Bytes frame(head.begin(), head.end());
    frame.insert(frame.end(), payload.begin(), payload.end());
    queued_bytes_ += frame.size() + queued_frame_overhead;
    write_queue_.push_back(std::move(frame));
    queued_.notify();
    if (queued_bytes_ > config_.max_write_queue)
        fail(make_error_code(net_errc::write_queue_full), std::nullopt);
}

void YamuxSession::fail(error_code reason, std::optional<yamux::GoAwayCode> go_away) {
    if (closed_) return;
    if (go_away) {
        FrameHeader header{FrameType::go_away, 0, 0, static_cast<std::uint32_t>(*go_away)};
        auto head = header.encode();
        write_queue_.emplace_back(head.begin(), head.end());
        closing_ = true;
    }
    closed_ = true;
    close_reason_ = reason;
    auto streams = std::move(streams_);
    streams_.clear();
    for (auto& [id, stream] : streams)
        stream->on_reset(make_error_code(net_errc::connection_closed));
    for (auto& [id, ping] : pings_) ping->timer.cancel();
    write_watchdog_.cancel();
    if (backlog_) backlog_->notify();
    wake_drain_waiters();
    queued_.notify();
    if (!closing_ || writer_done_) {
        transport_->reset();
        linger_.cancel();
    } else {
        // The writer flushes the GoAway and then hangs up; a peer that does not read gets cut.
        arm_linger();
    }
    if (on_close_) {
        auto handler = std::move(on_close_);
        on_close_ = nullptr;
        asio::post(get_executor(), [handler, reason]() { handler(reason); });
    }
    on_inbound_ = nullptr;
}

bool YamuxSession::over_budget(std::size_t more) const {
    if (buffered_ + more >= config_.max_buffered_per_connection) return true;
    // "Full" once it cannot take one more frame's worth.
    bool process_full =
        config_.process_budget && config_.process_budget->used() + more + config_.max_data_frame >
                                      config_.process_budget->limit();
    return process_full && buffered_ + more > config_.connection_reserve;
}

bool YamuxSession::take_buffered(std::size_t n) {
    if (config_.process_budget && !config_.process_budget->try_take(n)) {
        if (reserve_used_ + n > config_.connection_reserve) return false;
        reserve_used_ += n;
    }
    buffered_ += n;
    return true;
}

void YamuxSession::release_buffered(std::size_t n) {
    n = std::min(buffered_, n);
    buffered_ -= n;
    auto from_reserve = std::min(reserve_used_, n);
    reserve_used_ -= from_reserve;
    if (config_.process_budget) config_.process_budget->give_back(n - from_reserve);
}

void YamuxSession::wake_drain_waiters() {
    auto waiters = std::move(drain_waiters_);
    drain_waiters_.clear();
    for (auto& w : waiters) {
        if (auto stream = w.lock()) {
            stream->awaiting_drain_ = false;
            stream->wake_writer();
        }
    }
}

void YamuxSession::forget(std::uint32_t stream_id) {
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) return;
    if (it->second->inbound())
        --inbound_count_;
    else
        --outbound_count_;
    note_acknowledged(*it->second);  // gone either way: no longer in the backlog
    streams_.erase(it);
}

awaitable<void> YamuxSession::write_loop() {
    auto self = shared_from_this();
    Bytes batch;
    while (true) {
        if (write_queue_.empty()) {
            if (closing_ || closed_) break;
            auto has_work = [this] { return !write_queue_.empty() || closing_ || closed_; };
            co_await queued_.until(has_work);
            // Woken by the first frame: let the tasks already queued behind us add theirs (a
            // stream's answer, another stream's FIN), so they leave in one write and one Noise
            // message instead of one each.
            co_await asio::post(get_executor(), asio::use_awaitable);
            continue;
        }
        batch.clear();
        std::size_t counted = 0;
        while (!write_queue_.empty() &&
               (batch.empty() || batch.size() + write_queue_.front().size() <= max_write_batch)) {
            auto& frame = write_queue_.front();
            batch.insert(batch.end(), frame.begin(), frame.end());
            counted += frame.size() + queued_frame_overhead;
            write_queue_.pop_front();
        }
        write_due_ = Clock::now() + config_.write_timeout;
        watch_write();
        auto ec = co_await transport_->write_all(batch);
        write_due_ = Clock::time_point::max();
        queued_bytes_ -= std::min(queued_bytes_, counted);
        wake_drain_waiters();
        if (ec) {
            fail(ec, std::nullopt);
            co_return;
        }
    }
    writer_done_ = true;
    write_watchdog_.cancel();
    if (closed_) {
        transport_->reset();
        linger_.cancel();
    } else {
        co_await transport_->close_write();  // graceful: the reader ends when the peer hangs up
    }
}

awaitable<void> YamuxSession::read_loop() {
    auto self = shared_from_this();
    std::array<std::uint8_t, yamux::header_size> head{};
    while (!closed_) {
        // Frames that came whole in one read are handled without a suspension.
        std::size_t got = transport_->read_ready(head);
        if (got < head.size()) {
            if (auto ec = co_await read_exact(*transport_, std::span(head).subspan(got))) {
                fail(ec == asio::error::eof ? make_error_code(net_errc::connection_closed) : ec,
                     std::nullopt);
                co_return;
            }
        }
        last_received_ = Clock::now();
        auto header = FrameHeader::decode(head);
        if (!header) {
            keel::log().debug(
                "event=yamux_bad_frame version={} type={} error=\"unknown version or "
                "frame type\"",
                head[0], head[1]);
            fail(make_error_code(net_errc::protocol_error), yamux::GoAwayCode::protocol_error);
            co_return;
        }
        error_code ec;
        auto payload = on_frame(*header);
        if (!payload) {
            ec = payload.error();
        } else if (payload->discard > 0) {
            ec = co_await discard(payload->discard);
        } else if (payload->into) {
            auto part = take_ready_data(*payload->into, *header);
            if (part) ec = co_await read_data(std::move(payload->into), *header, std::move(*part));
        }
        if (ec) {
            bool protocol = ec == net_errc::protocol_error;
            fail(ec, protocol ? std::optional(yamux::GoAwayCode::protocol_error) : std::nullopt);
            co_return;
        }
    }
}

awaitable<error_code> YamuxSession::discard(std::uint32_t length) {
    std::array<std::uint8_t, 4096> sink{};
    while (length > 0) {
        std::size_t n = std::min<std::size_t>(length, sink.size());
        if (auto ec = co_await read_exact(*transport_, std::span(sink).first(n))) co_return ec;
        length -= static_cast<std::uint32_t>(n);
    }
    co_return error_code{};
}

result<YamuxSession::Payload> YamuxSession::on_frame(const FrameHeader& h) {
    if (h.type == FrameType::ping) {
        if (h.stream_id != 0) return make_error_code(net_errc::protocol_error);
        if (h.flags & flag::syn) {
            send_frame(FrameType::ping, flag::ack, 0, h.length);
        } else if (h.flags & flag::ack) {
            if (auto it = pings_.find(h.length); it != pings_.end()) {
                it->second->answered = true;
                it->second->timer.cancel();
            }
        }
        return Payload{};
    }
    if (h.type == FrameType::go_away) {
        remote_gone_away_ = true;
        return Payload{};
    }
    if (h.stream_id == 0) return make_error_code(net_errc::protocol_error);

    std::shared_ptr<YamuxStream> stream;
    if (auto it = streams_.find(h.stream_id); it != streams_.end()) stream = it->second;
    const std::uint32_t data = h.type == FrameType::data ? h.length : 0;

    if (h.flags & flag::syn) {
        // The remote opens streams with its own parity: odd from a client, even from a server.
        bool remote_parity_ok = (h.stream_id % 2 == 1) != is_client_;
        if (stream || !remote_parity_ok) return make_error_code(net_errc::protocol_error);
        bool budget_full = over_budget(0);
        if (inbound_count_ >= config_.max_inbound_streams || closing_ || budget_full) {
            if (budget_full) ++budget_resets_;
            keel::log().debug(
                "event=yamux_stream_refused stream={} inbound={} limit={} closing={} "
                "buffered={} budget_full={}",
                h.stream_id, inbound_count_, config_.max_inbound_streams, closing_, buffered_,
                budget_full);
            send_frame(FrameType::window_update, flag::rst, h.stream_id, 0);
            return Payload{nullptr, data};
        }
        stream = std::make_shared<YamuxStream>(shared_from_this(), h.stream_id, true);
        streams_.emplace(h.stream_id, stream);
        ++inbound_count_;
        stream->ack_owed_ = true;  // with our first frame on it (YamuxStream::send)
        if (on_inbound_) on_inbound_(stream);
    }

    // Any frame back on a stream we opened acknowledges it (the spec puts ACK on the first).
    if (stream && !(h.flags & flag::syn)) note_acknowledged(*stream);

    if (h.type == FrameType::data) {
        if (!stream) return Payload{nullptr, data};  // a stream we already forgot
        if (h.length > stream->receive_window_) {
            keel::log().debug("event=yamux_window_exceeded stream={} length={} window={}",
                              h.stream_id, h.length, stream->receive_window_);
            return make_error_code(net_errc::protocol_error);
        }
        if (h.length > 0) {
            bool take = !stream->read_closed_ && !stream->reset_reason_;
            if (take && !take_buffered(h.length)) {
                // Within the window, but more than the process will hold for all peers together
                // and more than this connection's reserve: the stream goes, its data is dropped,
                // the session stays.
                ++budget_resets_;
                keel::log().debug("event=yamux_stream_reset reason=budget stream={} buffered={}",
                                  h.stream_id, buffered_);
                stream->reset();
                take = false;
            }
            if (!take) {
                stream->receive_window_ -= h.length;  // not credited back: the peer stalls
                return Payload{nullptr, data};
            }
            return Payload{std::move(stream), 0};  // its flags once the payload is in
        }
    } else if (stream) {  // window update
        if (std::uint64_t{stream->send_window_} + h.length > 0xffffffffu)
            return make_error_code(net_errc::protocol_error);
        stream->on_window_update(h.length);
    }
    if (stream) apply_flags(*stream, h.flags);
    return Payload{};
}

std::optional<Bytes> YamuxSession::take_ready_data(YamuxStream& stream, const FrameHeader& h) {
    auto room = stream.extend_buffer(h.length);
    std::size_t got = transport_->read_ready(room);
    if (got == h.length) {
        data_arrived(stream, h);
        return std::nullopt;
    }
    Bytes part(room.begin(), room.begin() + static_cast<std::ptrdiff_t>(got));
    stream.unextend_buffer(h.length);
    return part;
}

awaitable<error_code> YamuxSession::read_data(std::shared_ptr<YamuxStream> stream, FrameHeader h,
                                              Bytes payload) {
    // Read the rest aside and only then append it: while read_exact is suspended, the stream's
    // reader may run and must not see (or clear) a half-filled buffer.
    std::size_t got = payload.size();
    payload.resize(h.length);
    if (auto ec = co_await read_exact(*transport_, std::span(payload).subspan(got))) {
        release_buffered(h.length);
        co_return ec;
    }
    auto room = stream->extend_buffer(payload.size());
    std::copy(payload.begin(), payload.end(), room.begin());
    data_arrived(*stream, h);
    co_return error_code{};
}

void YamuxSession::data_arrived(YamuxStream& stream, const FrameHeader& h) {
    stream.receive_window_ -= h.length;
    stream.wake_reader();
    // Dropped while we read it (reset, close_read): give the bytes back now.
    if (stream.read_closed_ || stream.reset_reason_) stream.drop_buffer();
    apply_flags(stream, h.flags);
}

void YamuxSession::apply_flags(YamuxStream& stream, std::uint16_t flags) {
    if (flags & flag::fin) stream.on_remote_close();
    if (flags & flag::rst) stream.on_reset(make_error_code(net_errc::stream_reset));
}

}  // namespace keel::net
