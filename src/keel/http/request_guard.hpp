#pragma once
// What a web page in the user's browser may make the local server do (docs/security.md):
// - Every request must name the server by an IP literal or "localhost" in its Host header: a page
//   that reaches the port through DNS rebinding names its own domain and is refused.
// - A state-changing request (anything but GET and HEAD) must carry no Origin, or the origin of
//   the server itself: another site's page may not POST to it.
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace keel::http {

// True when a Host header value names the server by an IP literal or "localhost" (with or
// without a port): what a DNS-rebinding page cannot send.
bool host_header_allowed(std::string_view host);

class OriginPolicy {
  public:
    // The server also answers at `bound`: its loopback spellings (127.0.0.1, localhost, [::1])
    // with that port, and its own address when it is bound to a specific non-loopback one.
    void allow_server_at(const boost::asio::ip::tcp::endpoint& bound);
    bool allows(std::string_view method, std::string_view origin) const;

  private:
    std::vector<std::string> origins_;
};

}  // namespace keel::http
