#pragma once
// One Yamux stream. Reads come from a buffer the session fills; the buffer never exceeds the
// receive window we granted, because a peer that sends past it ends the whole session.
#include <memory>

#include "keel/net/byte_stream.hpp"
#include "keel/net/condition.hpp"
#include "keel/net/yamux_frame.hpp"

namespace keel::net {

class YamuxSession;

class YamuxStream final : public ByteStream, public std::enable_shared_from_this<YamuxStream> {
  public:
    YamuxStream(std::shared_ptr<YamuxSession> session, std::uint32_t id, bool inbound);
    ~YamuxStream() override;

    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override;
    awaitable<error_code> write_all(BytesView data) override;
    awaitable<error_code> close_write() override;
    void reset() override;
    // We will read nothing more: what is buffered is dropped and what arrives later is
    // discarded without a window update (so a peer that keeps sending stalls on its own window).
    // Done by the Host once a stream's handler has finished.
    void close_read();
    asio::any_io_executor get_executor() override;
    std::size_t ready_to_read() const override { return buffer_.size() - buffer_pos_; }
    std::size_t read_ready(std::span<std::uint8_t> buffer) override;
    // What goes before the protocol's first bytes. Its `send` goes out with the first write (or
    // with close_write, or before a read waits for the peer, whichever comes first): a lazy
    // dialer's proposal (multistream_lazy), or a listener's held answer. Its `receive`, a lazy
    // dialer's, takes the answer off before the first read hands out data; a refusal fails that
    // read and resets.
    void set_preamble(Preamble preamble) { preamble_ = std::move(preamble); }
    // Every read and write that has to wait gives up at this time with net_errc::timeout, as
    // go's SetDeadline; max() for none (the default; a write still has the session's
    // write_timeout). Bounds a whole exchange (a negotiation, an identify, a request) without
    // with_deadline's parallel group, which costs two spawned coroutines and their cancellation
    // slots even when nothing waits; here a wait costs one timer, and most reads find their
    // bytes already here and do not wait. The one reading or writing sets it.
    void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }

    std::uint32_t id() const { return id_; }
    bool inbound() const { return inbound_; }
    const std::string& protocol() const { return protocol_; }
    void set_protocol(std::string protocol) { protocol_ = std::move(protocol); }

  private:
    friend class YamuxSession;

    // Called by the session.
    void on_data(BytesView data);
    void on_window_update(std::uint32_t delta);
    void on_remote_close();
    void on_reset(error_code reason);
    void maybe_forget();
    // Hands out buffered bytes (and grants the window back once half of it is read).
    std::size_t take(std::span<std::uint8_t> buffer);
    // Drops the unread buffer and returns its bytes to the session's accounting.
    void drop_buffer();
    // Room for `n` received bytes after the unread ones (from the start again once everything
    // was read), for the session to fill; it gives back what it did not fill with
    // unextend_buffer(n - filled).
    std::span<std::uint8_t> extend_buffer(std::size_t n);
    void unextend_buffer(std::size_t n) { buffer_.resize(buffer_.size() - n); }
    void wake_reader() { readable_.notify(); }
    void wake_writer() { writable_.notify(); }
    // Every frame of this stream goes out here: the first one we send on a stream the remote
    // opened carries its ACK.
    void send(yamux::FrameType type, std::uint16_t flags, std::uint32_t length,
              BytesView payload = {});

    std::shared_ptr<YamuxSession> session_;
    std::uint32_t id_;
    bool inbound_;
    bool acknowledged_ = false;    // outbound: a frame came back on it (see the ACK backlog)
    bool awaiting_drain_ = false;  // in the session's drain_waiters_ (once, however often woken)
    // Inbound: the ACK is not sent yet. It goes with our first frame (the multistream answer,
    // as a rule) instead of alone, as rust-yamux does: one segment less per stream.
    bool ack_owed_ = false;
    std::string protocol_;
    Bytes buffer_;
    std::size_t buffer_pos_ = 0;
    std::uint32_t receive_window_;  // what the peer may still send us
    std::uint32_t consumed_ = 0;    // read by the user since our last window update
    std::uint32_t send_window_;     // what we may still send
    bool local_closed_ = false;
    bool read_closed_ = false;  // close_read(): incoming data is discarded
    bool remote_closed_ = false;
    error_code reset_reason_;  // set once reset, by either side or by the session ending
    Preamble preamble_;
    Clock::time_point deadline_ = Clock::time_point::max();
    bool forgotten_ = false;
    Condition readable_;  // data, a close or a reset arrived
    Condition writable_;  // the send window grew, the session's queue drained, or a reset
};

}  // namespace keel::net
