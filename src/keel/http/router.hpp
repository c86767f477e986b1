#pragma once
// Which handler answers a request: routes by method and path pattern ("/api/v1/peers/{id}", the
// {name} segments percent-decoded into HttpRequest::params), then the web UI's files for a GET
// that no route takes. A path some route knows under another method answers 405, anything else
// 404; a handler that throws answers 500 without saying why (its bug, not the client's).
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/http/message.hpp"
#include "keel/http/static_files.hpp"
#include "keel/net/asio.hpp"

namespace keel::http {

class Router {
  public:
    using Handler = std::function<net::awaitable<HttpResponse>(HttpRequest)>;

    void add(std::string method, std::string_view pattern, Handler handler);
    void static_files(StaticFiles files);
    net::awaitable<HttpResponse> dispatch(HttpRequest request) const;

  private:
    struct Route {
        std::string method;
        std::vector<std::string> segments;  // "{name}" matches any one segment
        Handler handler;
    };
    std::vector<Route> routes_;
    std::optional<StaticFiles> files_;
};

// "%2F" -> "/"; a '%' not followed by two hex digits stays as it is.
std::string percent_decode(std::string_view in);

}  // namespace keel::http
