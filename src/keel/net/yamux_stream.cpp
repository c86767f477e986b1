#include "keel/net/yamux_stream.hpp"

#include <algorithm>
#include <cstring>

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
      read_signal_(session_->get_executor()),
      write_signal_(session_->get_executor()) {}

asio::any_io_executor YamuxStream::get_executor() {
    return session_->get_executor();
}

awaitable<result<std::size_t>> YamuxStream::read_some(std::span<std::uint8_t> buffer) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto self = shared_from_this();
    while (true) {
        if (buffer_pos_ < buffer_.size()) {
            std::size_t n = std::min(buffer.size(), buffer_.size() - buffer_pos_);
            std::memcpy(buffer.data(), buffer_.data() + buffer_pos_, n);
            buffer_pos_ += n;
            if (buffer_pos_ == buffer_.size()) {
                buffer_.clear();
                buffer_pos_ = 0;
            }
            // Grant the peer more room once half the window has been consumed, as go-yamux does:
            // fewer updates than one per read, and the peer never stalls on a full window.
            consumed_ += static_cast<std::uint32_t>(n);
            if (consumed_ >= session_->config().initial_window / 2 && !remote_closed_ &&
                !reset_reason_) {
                session_->send_frame(FrameType::window_update, 0, id_, consumed_);
                receive_window_ += consumed_;
                consumed_ = 0;
            }
            co_return n;
        }
        if (reset_reason_) co_return reset_reason_;
        if (remote_closed_) co_return make_error_code(asio::error::eof);
        read_signal_.expires_at(Clock::time_point::max());
        co_await read_signal_.async_wait(use_result);
        if (co_await cancelled()) co_return make_error_code(asio::error::operation_aborted);
    }
}

awaitable<error_code> YamuxStream::write_all(BytesView data) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto self = shared_from_this();
    const auto& config = session_->config();
    while (!data.empty()) {
        if (reset_reason_) co_return reset_reason_;
        if (local_closed_) co_return make_error_code(asio::error::broken_pipe);
        if (session_->is_closed()) co_return make_error_code(net_errc::connection_closed);
        if (send_window_ == 0) {
            write_signal_.expires_at(Clock::time_point::max());
            co_await write_signal_.async_wait(use_result);
            if (co_await cancelled()) co_return make_error_code(asio::error::operation_aborted);
            continue;
        }
        std::size_t chunk =
            std::min({data.size(), std::size_t{send_window_}, config.max_data_frame});
        if (session_->queued_bytes_ + chunk > config.write_high_watermark) {
            session_->drain_signal_.expires_at(Clock::time_point::max());
            co_await session_->drain_signal_.async_wait(use_result);
            if (co_await cancelled()) co_return make_error_code(asio::error::operation_aborted);
            continue;
        }
        session_->send_frame(FrameType::data, 0, id_, static_cast<std::uint32_t>(chunk),
                             data.first(chunk));
        send_window_ -= static_cast<std::uint32_t>(chunk);
        data = data.subspan(chunk);
    }
    co_return error_code{};
}

awaitable<error_code> YamuxStream::close_write() {
    if (reset_reason_) co_return reset_reason_;
    if (!local_closed_) {
        local_closed_ = true;
        session_->send_frame(FrameType::window_update, flag::fin, id_, 0);
        maybe_forget();
    }
    co_return error_code{};
}

void YamuxStream::reset() {
    if (reset_reason_) return;
    session_->send_frame(FrameType::window_update, flag::rst, id_, 0);
    on_reset(make_error_code(asio::error::operation_aborted));
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
    if (local_closed_ && remote_closed_ && !forgotten_) {
        forgotten_ = true;
        session_->forget(id_);
    }
}

}  // namespace keel::net
