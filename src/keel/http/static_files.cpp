#include "keel/http/static_files.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

namespace keel::http {

namespace {

std::string_view mime_type(const std::filesystem::path& file) {
    auto ext = file.extension().string();
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".json") return "application/json";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".woff2") return "font/woff2";
    return "application/octet-stream";
}

// True when `path` is `root` or below it (both canonical).
bool is_under(const std::filesystem::path& path, const std::filesystem::path& root) {
    auto p = path.begin();
    for (auto r = root.begin(); r != root.end(); ++r, ++p)
        if (p == path.end() || *p != *r) return false;
    return true;
}

}  // namespace

net::result<StaticFiles> StaticFiles::load(const std::filesystem::path& root, std::string* why) {
    auto fail = [&](std::string text) {
        if (why) *why = std::move(text);
        return net::result<StaticFiles>(std::make_error_code(std::errc::invalid_argument));
    };
    std::error_code ec;
    auto canonical_root = std::filesystem::canonical(root, ec);
    if (ec || !std::filesystem::is_directory(canonical_root, ec))
        return fail(root.string() + " is not a directory");
    StaticFiles out;
    std::size_t total = 0;
    std::filesystem::recursive_directory_iterator it(canonical_root, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        std::error_code fec;
        auto file = std::filesystem::canonical(it->path(), fec);
        if (fec || !is_under(file, canonical_root) || !std::filesystem::is_regular_file(file, fec))
            continue;
        if (out.files_.size() >= max_files)
            return fail(root.string() + " holds more than " + std::to_string(max_files) +
                        " files: is it a web UI build?");
        std::ifstream in(file, std::ios::binary);
        if (!in) continue;
        std::ostringstream body;
        body << in.rdbuf();
        total += body.str().size();
        if (total > max_total_bytes)
            return fail(root.string() + " holds more than " +
                        std::to_string(max_total_bytes >> 20) + " MiB: is it a web UI build?");
        auto url = "/" + std::filesystem::relative(it->path(), canonical_root).generic_string();
        out.files_.emplace(std::move(url), StaticFile{std::string(mime_type(file)), body.str()});
    }
    if (ec) return fail("cannot read " + root.string() + ": " + ec.message());
    return out;
}

const StaticFile* StaticFiles::find(std::string_view url_path) const {
    if (url_path == "/") url_path = "/index.html";
    auto it = files_.find(url_path);
    return it == files_.end() ? nullptr : &it->second;
}

}  // namespace keel::http
