#include "keel/http/request_guard.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>

namespace keel::http {

bool host_header_allowed(std::string_view host) {
    if (host.empty()) return false;
    boost::system::error_code ec;
    if (host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string_view::npos) return false;
        auto rest = host.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return false;
        boost::asio::ip::make_address_v6(std::string(host.substr(1, close - 1)), ec);
        return !ec;
    }
    std::string name(host.substr(0, host.find(':')));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "localhost") return true;
    boost::asio::ip::make_address_v4(name, ec);
    return !ec;
}

void OriginPolicy::allow_server_at(const boost::asio::ip::tcp::endpoint& bound) {
    auto port = std::to_string(bound.port());
    for (const auto* host : {"127.0.0.1", "localhost", "[::1]"})
        origins_.push_back(std::string("http://") + host + ":" + port);
    auto a = bound.address();
    if (!a.is_unspecified() && !a.is_loopback())
        origins_.push_back("http://" + (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) +
                           ":" + port);
}

bool OriginPolicy::allows(std::string_view method, std::string_view origin) const {
    if (method == "GET" || method == "HEAD" || origin.empty()) return true;
    return std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

}  // namespace keel::http
