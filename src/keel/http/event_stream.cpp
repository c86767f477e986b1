#include "keel/http/event_stream.hpp"

#include <array>
#include <boost/asio/write.hpp>

namespace keel::http {

namespace asio = net::asio;

namespace {

// A client sends nothing on an event stream, so a read that completes means it hung up: it is
// noticed at once rather than at the next keepalive write. (The raw socket is read, not the beast
// stream, whose write deadline would also end this read.)
net::awaitable<void> notice_hang_up(std::shared_ptr<boost::beast::tcp_stream> stream,
                                    std::shared_ptr<EventBus::Subscription> sub,
                                    std::shared_ptr<bool> gone) {
    std::array<char, 512> sink{};
    for (;;) {
        auto [ec, n] =
            co_await stream->socket().async_read_some(asio::buffer(sink), net::use_result);
        (void)n;
        if (ec) break;
    }
    *gone = true;
    sub->arrived.notify();
}

// What is queued for one subscriber, as event-stream text (a keepalive comment when nothing is).
std::string take_text(EventBus::Subscription& sub) {
    std::string text;
    if (sub.dropped) {
        text += "event: dropped\ndata: {\"count\":" + std::to_string(sub.dropped) + "}\n\n";
        sub.dropped = 0;
    }
    if (sub.queue.empty()) text += ": keepalive\n\n";
    while (!sub.queue.empty()) {
        auto& e = sub.queue.front();
        text += "id: " + std::to_string(e.id) + "\nevent: " + e.type + "\ndata: " + e.data + "\n\n";
        sub.queue.pop_front();
    }
    return text;
}

}  // namespace

net::awaitable<void> serve_event_stream(std::shared_ptr<boost::beast::tcp_stream> stream,
                                        EventBus& events, EventStreamLimits limits) {
    static constexpr std::string_view head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
        "no-store\r\nConnection: close\r\n\r\n: connected\n\n";
    stream->expires_after(limits.write_timeout);
    auto [wec, wn] = co_await asio::async_write(*stream, asio::buffer(head), net::use_result);
    (void)wn;
    if (wec) co_return;
    auto sub = events.subscribe();
    auto gone = std::make_shared<bool>(false);
    asio::co_spawn(
        stream->get_executor(), [stream, sub, gone] { return notice_hang_up(stream, sub, gone); },
        asio::detached);
    while (!*gone) {
        auto has_work = [&] { return !sub->queue.empty() || *gone; };
        co_await sub->arrived.until(has_work, net::Clock::now() + limits.keepalive);
        if (*gone) break;
        auto text = take_text(*sub);
        stream->expires_after(limits.write_timeout);
        auto [ec, n] = co_await asio::async_write(*stream, asio::buffer(text), net::use_result);
        (void)n;
        if (ec) break;
    }
    events.unsubscribe(sub);
    net::error_code ignored;
    stream->socket().close(ignored);  // ends notice_hang_up
}

}  // namespace keel::http
