#pragma once
// A TCP relay in front of a real peer, on its own thread: it counts every connection it accepts
// (each one is a dial by whoever uses the relay's port). While up it forwards bytes both ways to
// the target; while down it closes the connections it relays and accepts and closes new ones at
// once, which a dialer sees as a peer that went away.
#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace keel::test::scenario {

class TcpRelay {
  public:
    using tcp = boost::asio::ip::tcp;

    explicit TcpRelay(tcp::endpoint target)
        : target_(target),
          acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
          guard_(io_.get_executor()),
          port_(acceptor_.local_endpoint().port()) {
        accept_next();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~TcpRelay() {
        boost::asio::post(io_, [this] {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            close_all();
            guard_.reset();
        });
        thread_.join();
    }
    TcpRelay(const TcpRelay&) = delete;
    TcpRelay& operator=(const TcpRelay&) = delete;

    std::uint16_t port() const { return port_; }
    // Connections accepted so far, in either state.
    std::size_t accepted() const { return accepted_.load(); }
    // Switches state; returns once the relay thread applied it (down: relayed connections are
    // closed by then).
    void set_up(bool up) {
        std::promise<void> done;
        boost::asio::post(io_, [&] {
            up_ = up;
            if (!up) close_all();
            done.set_value();
        });
        done.get_future().wait();
    }

  private:
    struct Pair : std::enable_shared_from_this<Pair> {
        Pair(tcp::socket client, boost::asio::io_context& io) : down(std::move(client)), up(io) {}
        tcp::socket down;  // the dialer's side
        tcp::socket up;    // to the target
        std::array<char, 16384> from_down{};
        std::array<char, 16384> from_up{};
        bool closed = false;

        void close() {
            if (closed) return;
            closed = true;
            boost::system::error_code ignored;
            down.shutdown(tcp::socket::shutdown_both, ignored);
            down.close(ignored);
            up.shutdown(tcp::socket::shutdown_both, ignored);
            up.close(ignored);
        }
        void pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buffer) {
            auto self = shared_from_this();
            from.async_read_some(
                boost::asio::buffer(buffer),
                [self, &from, &to, &buffer](boost::system::error_code ec, std::size_t n) {
                    if (ec || self->closed) return self->close();
                    boost::asio::async_write(
                        to, boost::asio::buffer(buffer.data(), n),
                        [self, &from, &to, &buffer](boost::system::error_code wec, std::size_t) {
                            if (wec || self->closed) return self->close();
                            self->pump(from, to, buffer);
                        });
                });
        }
    };

    void accept_next() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
            if (ec) return;  // closed
            ++accepted_;
            if (!up_) {
                boost::system::error_code ignored;
                socket.close(ignored);
            } else {
                boost::system::error_code ignored;
                socket.set_option(tcp::no_delay(true), ignored);  // relay, don't batch
                auto pair = std::make_shared<Pair>(std::move(socket), io_);
                pairs_.push_back(pair);
                pair->up.async_connect(target_, [pair](boost::system::error_code cec) {
                    if (cec || pair->closed) return pair->close();
                    boost::system::error_code ignored;
                    pair->up.set_option(tcp::no_delay(true), ignored);
                    pair->pump(pair->down, pair->up, pair->from_down);
                    pair->pump(pair->up, pair->down, pair->from_up);
                });
            }
            accept_next();
        });
    }

    void close_all() {
        for (auto& weak : pairs_)
            if (auto pair = weak.lock()) pair->close();
        pairs_.clear();
    }

    tcp::endpoint target_;
    boost::asio::io_context io_;
    tcp::acceptor acceptor_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::uint16_t port_;
    std::thread thread_;
    std::atomic<std::size_t> accepted_{0};
    bool up_ = true;  // touched on the relay thread only
    std::vector<std::weak_ptr<Pair>> pairs_;
};

}  // namespace keel::test::scenario
