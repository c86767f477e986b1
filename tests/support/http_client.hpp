#pragma once
// A tiny blocking HTTP/1.1 client for tests, over a plain POSIX socket: one request per
// connection (`Connection: close`), the answer read to EOF, every wait under one deadline. Enough
// for Keel's local API (JSON in, JSON out); no TLS, no redirects, no keep-alive.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace keel::test {

struct HttpUrl {
    std::string host;  // an IPv4 address, e.g. 127.0.0.1
    std::uint16_t port = 0;

    // "http://127.0.0.1:5080" (a trailing slash or path is ignored); nullopt otherwise.
    static std::optional<HttpUrl> parse(std::string_view url) {
        constexpr std::string_view scheme = "http://";
        if (!url.starts_with(scheme)) return std::nullopt;
        url.remove_prefix(scheme.size());
        if (auto slash = url.find('/'); slash != std::string_view::npos) url = url.substr(0, slash);
        auto colon = url.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        HttpUrl out;
        out.host = std::string(url.substr(0, colon));
        unsigned long port = 0;
        try {
            port = std::stoul(std::string(url.substr(colon + 1)));
        } catch (const std::exception&) {
            return std::nullopt;
        }
        if (port == 0 || port > 65535) return std::nullopt;
        out.port = static_cast<std::uint16_t>(port);
        return out;
    }
    std::string origin() const { return "http://" + host + ":" + std::to_string(port); }
};

struct HttpReply {
    int status = 0;       // 0 when no answer arrived (see error)
    std::string error;    // transport failure: "connect: Connection refused", "timed out", …
    std::string body;     // de-chunked
    std::string headers;  // raw header block, status line excluded
};

namespace detail {

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

inline int ms_left(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on `fd`; false on timeout or error (`why` says which).
inline bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline,
                    std::string& why) {
    while (true) {
        pollfd p{fd, events, 0};
        int ready = poll(&p, 1, ms_left(deadline));
        if (ready > 0) return true;
        if (ready == 0) {
            why = "timed out";
            return false;
        }
        if (errno != EINTR) {
            why = std::string("poll: ") + std::strerror(errno);
            return false;
        }
    }
}

inline std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Decodes a chunked body; nullopt if malformed.
inline std::optional<std::string> dechunk(std::string_view in) {
    std::string out;
    while (true) {
        auto eol = in.find("\r\n");
        if (eol == std::string_view::npos) return std::nullopt;
        std::size_t size = 0;
        try {
            size = std::stoul(std::string(in.substr(0, eol)), nullptr, 16);
        } catch (const std::exception&) {
            return std::nullopt;
        }
        in.remove_prefix(eol + 2);
        if (size == 0) return out;
        if (in.size() < size + 2) return std::nullopt;
        out.append(in.substr(0, size));
        in.remove_prefix(size + 2);
    }
}

}  // namespace detail

// Sends one request and reads the answer to EOF. `extra_headers` are whole lines ending in \r\n.
// A body is sent as application/json. POSTs carry no Origin header unless given in extra_headers.
inline HttpReply http_request(const HttpUrl& url, std::string_view method, std::string_view target,
                              std::string_view body = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(30),
                              std::string_view extra_headers = {}) {
    HttpReply reply;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    detail::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
        reply.error = std::string("socket: ") + std::strerror(errno);
        return reply;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(url.port);
    if (inet_pton(AF_INET, url.host.c_str(), &addr.sin_addr) != 1) {
        reply.error = "bad host " + url.host;
        return reply;
    }
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINPROGRESS) {
            reply.error = std::string("connect: ") + std::strerror(errno);
            return reply;
        }
        if (!detail::wait_fd(fd.get(), POLLOUT, deadline, reply.error)) {
            reply.error = "connect: " + reply.error;
            return reply;
        }
        int so_error = 0;
        socklen_t len = sizeof so_error;
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
        if (so_error != 0) {
            reply.error = std::string("connect: ") + std::strerror(so_error);
            return reply;
        }
    }

    std::string request;
    request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    request += "Host: " + url.host + ":" + std::to_string(url.port) + "\r\n";
    request += "Connection: close\r\n";
    request += "Accept: */*\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") {
        request += "Content-Type: application/json\r\n";
        request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request.append(extra_headers);
    request += "\r\n";
    request.append(body);

    std::size_t sent = 0;
    while (sent < request.size()) {
        ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!detail::wait_fd(fd.get(), POLLOUT, deadline, reply.error)) {
                reply.error = "send: " + reply.error;
                return reply;
            }
            continue;
        }
        reply.error = std::string("send: ") + std::strerror(errno);
        return reply;
    }

    std::string raw;
    char chunk[8192];
    while (true) {
        ssize_t n = recv(fd.get(), chunk, sizeof chunk, 0);
        if (n > 0) {
            raw.append(chunk, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) break;  // EOF: the whole answer is here
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!detail::wait_fd(fd.get(), POLLIN, deadline, reply.error)) {
                reply.error =
                    "recv: " + reply.error + " (" + std::to_string(raw.size()) + " bytes received)";
                return reply;
            }
            continue;
        }
        if (errno == ECONNRESET && !raw.empty()) break;
        reply.error = std::string("recv: ") + std::strerror(errno);
        return reply;
    }

    auto head_end = raw.find("\r\n\r\n");
    auto line_end = raw.find("\r\n");
    if (head_end == std::string::npos || !raw.starts_with("HTTP/1.")) {
        reply.error = "malformed answer: " + raw.substr(0, 200);
        return reply;
    }
    auto status_line = raw.substr(0, line_end);
    auto space = status_line.find(' ');
    try {
        reply.status = std::stoi(status_line.substr(space + 1, 3));
    } catch (const std::exception&) {
        reply.error = "malformed status line: " + status_line;
        return reply;
    }
    reply.headers = raw.substr(line_end + 2, head_end - line_end - 2);
    std::string payload = raw.substr(head_end + 4);
    auto headers = detail::lower(reply.headers);
    if (headers.find("transfer-encoding: chunked") != std::string::npos) {
        auto decoded = detail::dechunk(payload);
        if (!decoded) {
            reply.error = "malformed chunked body";
            return reply;
        }
        payload = std::move(*decoded);
    } else if (auto cl = headers.find("content-length:"); cl != std::string::npos) {
        try {
            auto length = std::stoul(headers.substr(cl + 15));
            if (payload.size() > length) payload.resize(length);
        } catch (const std::exception&) {
        }
    }
    reply.body = std::move(payload);
    return reply;
}

}  // namespace keel::test
