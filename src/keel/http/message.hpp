#pragma once
// One HTTP request as a route handler sees it, and the answer it gives.
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

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

// JSON text for a page (an answer's body, an event). Text from the network (agent versions,
// protocol IDs) or echoed from a request may hold bytes that are not UTF-8: they are replaced,
// never turned into an exception.
std::string json_text(const nlohmann::json& value);
// {"error": message}, as json_text.
HttpResponse json_error(unsigned status, std::string_view message);

}  // namespace keel::http
