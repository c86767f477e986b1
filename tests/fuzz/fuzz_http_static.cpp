// The local web server's guards that need no socket: host_header_allowed (DNS rebinding) and
// StaticFiles::find (which file a URL path names). Input: byte = which, rest = the header value or
// path. Properties: an allowed Host names "localhost" or an IP literal (what follows the name, a
// port, is not the guard's business: no browser sends a rebinding page's Host that way);
// find() returns only files indexed under the UI root, by their exact path: never the secret file
// beside the root, whatever the spelling ("..", "%2e", "//", absolute paths, a symlink).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <boost/asio/ip/address.hpp>

#include "fuzz_util.hpp"
#include "keel/http/request_guard.hpp"
#include "keel/http/static_files.hpp"

using namespace keel;
namespace fs = std::filesystem;

namespace {

const http::StaticFiles& files() {
    static const http::StaticFiles loaded = [] {
        auto root = fs::temp_directory_path() / ("keel-fuzz-static-" + std::to_string(::getpid()));
        fs::remove_all(root);
        fs::create_directories(root / "ui" / "assets");
        std::ofstream(root / "ui" / "index.html") << "<html>";
        std::ofstream(root / "ui" / "assets" / "app.js") << "js";
        std::ofstream(root / "secret.key") << "secret";
        fs::create_symlink(root / "secret.key", root / "ui" / "link.key");
        std::string why;
        auto f = http::StaticFiles::load(root / "ui", &why);
        if (!f) std::abort();
        return *f;
    }();
    return loaded;
}

bool plausible_host(std::string_view host) {
    // Strip a port, then brackets.
    std::string h(host);
    if (!h.empty() && h.front() == '[') {
        auto close = h.find(']');
        if (close == std::string::npos) return false;
        h = h.substr(1, close - 1);
    } else if (auto colon = h.find(':'); colon != std::string::npos) {
        h = h.substr(0, colon);
    }
    for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (h == "localhost") return true;
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(h, ec);
    return !ec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const bool host_mode = in.flag();
    auto text = as_chars(in.rest());
    if (host_mode) {
        if (http::host_header_allowed(text)) KEEL_FUZZ_CHECK(plausible_host(text));
        return 0;
    }
    const auto* file = files().find(text);
    if (!file) return 0;
    KEEL_FUZZ_CHECK(file->body == "<html>" || file->body == "js");
    KEEL_FUZZ_CHECK(text == "/" || text == "/index.html" || text == "/assets/app.js");
    return 0;
}
