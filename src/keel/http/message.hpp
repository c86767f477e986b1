#pragma once
// One HTTP request as a route handler sees it, and the answer it gives.
#include <map>
#include <string>
#include <string_view>

namespace keel::http {

struct HttpRequest {
    std::string method;
    std::string path;
    std::string query;
    std::string body;
    std::string origin;
    std::map<std::string, std::string> params;  // from {name} segments of the route
};

struct HttpResponse {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
};

// {"error": message}. Bytes that are not UTF-8 (echoed from a request) are replaced, never an
// exception.
HttpResponse json_error(unsigned status, std::string_view message);

}  // namespace keel::http
