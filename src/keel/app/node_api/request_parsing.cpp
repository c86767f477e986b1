#include "keel/app/node_api/request_parsing.hpp"

#include <charconv>

#include "keel/kad/content_key.hpp"

namespace keel::app::node_api {

using nlohmann::json;

std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
    std::size_t at = 0;
    while (at <= query.size()) {
        auto end = query.find('&', at);
        if (end == std::string_view::npos) end = query.size();
        auto part = query.substr(at, end - at);
        if (part.size() > name.size() && part.substr(0, name.size()) == name &&
            part[name.size()] == '=')
            return part.substr(name.size() + 1);
        at = end + 1;
    }
    return std::nullopt;
}

std::optional<std::size_t> query_number(std::string_view query, std::string_view name) {
    auto digits = query_value(query, name);
    if (!digits) return std::nullopt;
    std::size_t value = 0;
    auto [p, ec] = std::from_chars(digits->data(), digits->data() + digits->size(), value);
    if (ec != std::errc{} || p != digits->data() + digits->size()) return std::nullopt;
    return value;
}

std::optional<json> parse_body(const http::HttpRequest& req, std::string& why) {
    if (req.body.empty()) return json::object();
    try {
        auto j = json::parse(req.body);
        if (!j.is_object()) {
            why = "body must be a JSON object";
            return std::nullopt;
        }
        return j;
    } catch (const json::parse_error& e) {
        // nlohmann's message quotes the offending bytes; json_error() replaces any that are not
        // UTF-8, so the answer is a 400 whatever the body held.
        why = std::string("invalid JSON: ") + e.what();
        return std::nullopt;
    }
}

std::optional<Cid> content_key_of(const http::HttpRequest& req, std::string& why) {
    auto body = parse_body(req, why);
    if (!body) return std::nullopt;
    if (!body->contains("key") || !(*body)["key"].is_string()) {
        why = "missing \"key\" (a CID or any text)";
        return std::nullopt;
    }
    return kad::content_cid((*body)["key"].get<std::string>());
}

}  // namespace keel::app::node_api
