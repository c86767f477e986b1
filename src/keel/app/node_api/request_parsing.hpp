#pragma once
// Reading what a request asks for: query parameters and JSON bodies, each with the reason it was
// refused (answered as a 400) rather than an exception.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "keel/base/cid.hpp"
#include "keel/http/message.hpp"

namespace keel::app::node_api {

// A query parameter's raw value ("range=1h"); nullopt when absent.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name);
// A non-negative integer query parameter ("limit=20"); nullopt when absent or malformed.
std::optional<std::size_t> query_number(std::string_view query, std::string_view name);
// The body as a JSON object (an empty body is {}); nullopt and `why` otherwise.
std::optional<nlohmann::json> parse_body(const http::HttpRequest& req, std::string& why);
// The content key of a {"key": TEXT} body, as a CID (TEXT is a CID or any text, hashed).
std::optional<Cid> content_key_of(const http::HttpRequest& req, std::string& why);

}  // namespace keel::app::node_api
