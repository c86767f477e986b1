#include "keel/http/message.hpp"

#include <nlohmann/json.hpp>

namespace keel::http {

HttpResponse json_error(unsigned status, std::string_view message) {
    return {status, "application/json",
            nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                    nlohmann::json::error_handler_t::replace)};
}

}  // namespace keel::http
