#include "keel/net/memory_stream.hpp"

#include <algorithm>
#include <cstring>

#include "keel/net/condition.hpp"

namespace keel::net {
namespace {

// The bytes flowing in one direction, shared by the writing and the reading end.
struct Channel {
    explicit Channel(asio::any_io_executor ex) : changed(ex) {}
    Bytes data;
    std::size_t pos = 0;
    bool closed = false;  // writer half-closed
    bool reset = false;
    Condition changed;  // data, a half-close or a reset arrived
};

class MemoryStream final : public ByteStream {
  public:
    MemoryStream(asio::any_io_executor ex, std::shared_ptr<Channel> in,
                 std::shared_ptr<Channel> out)
        : executor_(std::move(ex)), in_(std::move(in)), out_(std::move(out)) {}
    ~MemoryStream() override { reset(); }

    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override {
        co_await asio::this_coro::throw_if_cancelled(false);
        auto in = in_;
        auto readable = [&] { return in->pos < in->data.size() || in->reset || in->closed; };
        bool ready = co_await in->changed.until(readable);
        if (!ready) co_return make_error_code(asio::error::operation_aborted);
        if (in->pos == in->data.size()) {
            if (in->reset) co_return make_error_code(asio::error::connection_reset);
            co_return make_error_code(asio::error::eof);
        }
        co_return read_ready(buffer);
    }

    std::size_t read_ready(std::span<std::uint8_t> buffer) override {
        auto& in = *in_;
        std::size_t n = std::min(buffer.size(), in.data.size() - in.pos);
        if (n == 0) return 0;
        std::memcpy(buffer.data(), in.data.data() + in.pos, n);
        in.pos += n;
        if (in.pos == in.data.size()) {
            in.data.clear();
            in.pos = 0;
        }
        return n;
    }

    awaitable<error_code> write_all(BytesView data) override {
        if (out_->reset || in_->reset) co_return make_error_code(asio::error::connection_reset);
        if (out_->closed) co_return make_error_code(asio::error::broken_pipe);
        out_->data.insert(out_->data.end(), data.begin(), data.end());
        out_->changed.notify();
        co_return error_code{};
    }

    awaitable<error_code> close_write() override {
        out_->closed = true;
        out_->changed.notify();
        co_return error_code{};
    }

    void reset() override {
        for (auto* c : {in_.get(), out_.get()}) {
            c->reset = true;
            c->changed.notify();
        }
    }

    asio::any_io_executor get_executor() override { return executor_; }
    std::size_t ready_to_read() const override { return in_->data.size() - in_->pos; }

  private:
    asio::any_io_executor executor_;
    std::shared_ptr<Channel> in_;
    std::shared_ptr<Channel> out_;
};

}  // namespace

std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>> make_memory_stream_pair(
    asio::any_io_executor executor) {
    auto a_to_b = std::make_shared<Channel>(executor);
    auto b_to_a = std::make_shared<Channel>(executor);
    return {std::make_unique<MemoryStream>(executor, b_to_a, a_to_b),
            std::make_unique<MemoryStream>(executor, a_to_b, b_to_a)};
}

}  // namespace keel::net
