#include "keel/http/message.hpp"

#include <nlohmann/json.hpp>

namespace keel::http {

std::string json_text(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse json_error(unsigned status, std::string_view message) {
    return {status, "application/json", json_text(nlohmann::json{{"error", message}})};
}

}  // namespace keel::http
