#include "keel/net/yamux_stream.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "keel/net/net_errc.hpp"
#include "keel/net/yamux_session.hpp"

namespace keel::net {

using yamux::FrameType;
namespace flag = yamux::flag;

YamuxStream::YamuxStream(std::shared_ptr<YamuxSession> session, std::uint32_t id, bool inbound)
    : session_(std::move(session)),
      id_(id),
      inbound_(inbound),
      receive_window_(session_->config().initial_window),
      send_window_(session_->config().initial_window),
      readable_(session_->get_executor()),
      writable_(session_->get_executor()) {}

YamuxStream::~YamuxStream() {
    drop_buffer();
}

void YamuxStream::drop_buffer() {
    std::size_t unread = buffer_.size() - buffer_pos_;
    buffer_ = Bytes{};  // the capacity too: this is what the budget is about
    buffer_pos_ = 0;
    if (unread > 0) session_->release_buffered(unread);
}

std::span<std::uint8_t> YamuxStream::extend_buffer(std::size_t n) {
    if (buffer_pos_ == buffer_.size()) {
        buffer_.clear();
        buffer_pos_ = 0;
    }
    std::size_t at = buffer_.size();
    buffer_.resize(at + n);
    return std::span(buffer_).subspan(at);
}

void YamuxStream::close_read() {
    read_closed_ = true;
    drop_buffer();
    wake_reader();
    maybe_forget();
}

asio::any_io_executor YamuxStream::get_executor() {
    return session_->get_executor();
}

awaitable<result<std::size_t>> YamuxStream::read_some(std::span<std::uint8_t> buffer) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto self = shared_from_this();
    if (preamble_.receive) {
        auto receive = std::move(preamble_.receive);
        preamble_.receive = nullptr;
        if (!preamble_.send.empty()) {  // nothing written yet: the proposal goes now
            Bytes proposal = std::exchange(preamble_.send, Bytes{});
            if (auto ec = co_await write_all(proposal)) co_return ec;
        }
        if (auto ec = co_await receive(*this)) {
            reset();
            co_return ec;
        }
    }
    while (true) {
        if (buffer_pos_ < buffer_.size()) co_return take(buffer);
        if (reset_reason_) co_return reset_reason_;
        if (remote_closed_ || read_closed_) co_return make_error_code(asio::error::eof);
        if (!preamble_.send.empty()) {  // a held answer: the peer may be waiting for it
            Bytes held = std::exchange(preamble_.send, Bytes{});
            if (auto ec = co_await write_all(held)) co_return ec;
            continue;
        }
        auto readable = [this] {
            return buffer_pos_ < buffer_.size() || reset_reason_ || remote_closed_ || read_closed_;
        };
        bool ready = co_await readable_.until(readable, deadline_);
        if (ready) continue;
        if (Clock::now() >= deadline_) co_return make_error_code(net_errc::timeout);
        co_return make_error_code(asio::error::operation_aborted);
    }
}

std::size_t YamuxStream::read_ready(std::span<std::uint8_t> buffer) {
    // A lazy dialer's answer comes off first (read_some does that); a held answer may stay held.
    if (preamble_.receive) return 0;
    return take(buffer);
}

std::size_t YamuxStream::take(std::span<std::uint8_t> buffer) {
    std::size_t n = std::min(buffer.size(), buffer_.size() - buffer_pos_);
    if (n == 0) return 0;
    std::memcpy(buffer.data(), buffer_.data() + buffer_pos_, n);
    buffer_pos_ += n;
    session_->release_buffered(n);
    if (buffer_pos_ == buffer_.size()) {
        buffer_.clear();
        buffer_pos_ = 0;
    }
    // Grant the peer more room once half the window has been consumed, as go-yamux does:
    // fewer updates than one per read, and the peer never stalls on a full window.
    consumed_ += static_cast<std::uint32_t>(n);
    if (consumed_ >= session_->config().initial_window / 2 && !remote_closed_ && !reset_reason_ &&
        !read_closed_) {
        send(FrameType::window_update, 0, consumed_);
        receive_window_ += consumed_;
        consumed_ = 0;
    }
    return n;
}

awaitable<error_code> YamuxStream::write_all(BytesView data) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto self = shared_from_this();
    if (!preamble_.send.empty()) {  // the proposal and the first data in one frame
        Bytes first = std::exchange(preamble_.send, Bytes{});
        first.insert(first.end(), data.begin(), data.end());
        co_return co_await write_all(first);
    }
    const auto& config = session_->config();
    // One deadline for the whole write: a peer that reads a byte now and then must not keep the
    // answer (and this task) alive for ever.
    const auto deadline = std::min(Clock::now() + config.write_timeout, deadline_);
    while (!data.empty()) {
        if (reset_reason_) co_return reset_reason_;
        if (local_closed_) co_return make_error_code(asio::error::broken_pipe);
        if (session_->is_closed()) co_return make_error_code(net_errc::connection_closed);
        std::size_t chunk =
            std::min({data.size(), std::size_t{send_window_}, config.max_data_frame});
        bool room = session_->queued_bytes_ + chunk <= config.write_high_watermark;
        if (chunk > 0 && room) {
            send(FrameType::data, 0, static_cast<std::uint32_t>(chunk), data.first(chunk));
            send_window_ -= static_cast<std::uint32_t>(chunk);
            data = data.subspan(chunk);
            continue;
        }
        if (Clock::now() >= deadline) {
            reset();
            co_return make_error_code(net_errc::timeout);
        }
        // Wait for a window update (on_window_update) or for the session's queue to drain
        // (wake_drain_waiters), each of which wakes this stream's own signal, or the deadline.
        if (!room && !awaiting_drain_) {
            awaiting_drain_ = true;
            session_->drain_waiters_.push_back(weak_from_this());
        }
        co_await writable_.wait(deadline);
        const auto state = co_await asio::this_coro::cancellation_state;
        if (cancelled(state)) co_return make_error_code(asio::error::operation_aborted);
    }
    co_return error_code{};
}

awaitable<error_code> YamuxStream::close_write() {
    if (reset_reason_) co_return reset_reason_;
    if (!preamble_.send.empty()) {
        Bytes proposal = std::exchange(preamble_.send, Bytes{});
        if (auto ec = co_await write_all(proposal)) co_return ec;
    }
    if (!local_closed_) {
        local_closed_ = true;
        send(FrameType::window_update, flag::fin, 0);
        maybe_forget();
    }
    co_return error_code{};
}

void YamuxStream::reset() {
    if (reset_reason_) return;
    send(FrameType::window_update, flag::rst, 0);
    on_reset(make_error_code(asio::error::operation_aborted));
    drop_buffer();  // we reset it: nobody will read what it holds
}

void YamuxStream::send(FrameType type, std::uint16_t flags, std::uint32_t length,
                       BytesView payload) {
    if (std::exchange(ack_owed_, false)) flags |= flag::ack;
    session_->send_frame(type, flags, id_, length, payload);
}

void YamuxStream::on_window_update(std::uint32_t delta) {
    send_window_ += delta;
    if (delta > 0) wake_writer();
}

void YamuxStream::on_remote_close() {
    remote_closed_ = true;
    wake_reader();
    maybe_forget();
}

void YamuxStream::on_reset(error_code reason) {
    if (!reset_reason_) reset_reason_ = reason;
    wake_reader();
    wake_writer();
    if (!forgotten_) {
        forgotten_ = true;
        session_->forget(id_);
    }
}

void YamuxStream::maybe_forget() {
    // Closed for reading by us counts as the remote's side being done: what it sends later is
    // discarded as for any stream we no longer know.
    if (local_closed_ && (remote_closed_ || read_closed_) && !forgotten_) {
        forgotten_ = true;
        session_->forget(id_);
    }
}

}  // namespace keel::net
