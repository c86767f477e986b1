#include "keel/http/router.hpp"

#include <cstdlib>
#include <map>

#include "keel/net/log.hpp"

namespace keel::http {

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t start = 1;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        if (end > start) out.emplace_back(path.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

bool is_parameter(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// The route's parameters when `segments` match its pattern.
std::optional<std::map<std::string, std::string>> match(const std::vector<std::string>& pattern,
                                                        const std::vector<std::string>& segments) {
    if (pattern.size() != segments.size()) return std::nullopt;
    std::map<std::string, std::string> params;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (is_parameter(pattern[i]))
            params[pattern[i].substr(1, pattern[i].size() - 2)] = percent_decode(segments[i]);
        else if (pattern[i] != segments[i])
            return std::nullopt;
    }
    return params;
}

}  // namespace

std::string percent_decode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            auto hex = std::string(in.substr(i + 1, 2));
            char* end = nullptr;
            long v = std::strtol(hex.c_str(), &end, 16);
            if (end == hex.c_str() + 2) {
                out.push_back(static_cast<char>(v));
                i += 2;
                continue;
            }
        }
        out.push_back(in[i]);
    }
    return out;
}

void Router::add(std::string method, std::string_view pattern, Handler handler) {
    routes_.push_back(Route{std::move(method), split_path(pattern), std::move(handler)});
}

void Router::static_files(StaticFiles files) {
    files_ = std::move(files);
}

net::awaitable<HttpResponse> Router::dispatch(HttpRequest request) const {
    auto segments = split_path(request.path);
    bool path_known = false;
    for (const auto& route : routes_) {
        auto params = match(route.segments, segments);
        if (!params) continue;
        path_known = true;
        if (route.method != request.method) continue;
        request.params = std::move(*params);
        try {
            co_return co_await route.handler(std::move(request));
        } catch (const std::exception& e) {
            log().error("event=api_handler_failed method={} error=\"{}\"", route.method, e.what());
            co_return json_error(500, "internal error");
        }
    }
    if (path_known) co_return json_error(405, "method not allowed");
    if (request.method == "GET" && files_ && request.path.rfind("/api/", 0) != 0)
        if (const auto* file = files_->find(request.path))
            co_return HttpResponse{200, file->content_type, file->body};
    co_return json_error(404, "not found: " + request.path);
}

}  // namespace keel::http
