#pragma once
// The web UI's files, read once at startup and served from memory by their exact URL path.
// Nothing a request says is ever joined onto a file-system path: no spelling of a path
// (absolute, "..", percent-encoded, a symlink added later) can reach a file outside the root,
// because the only files that exist for the server are the ones indexed here.
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "keel/net/asio.hpp"

namespace keel::http {

struct StaticFile {
    std::string content_type;
    std::string body;
};

class StaticFiles {
  public:
    // A UI build is a few hundred KiB; a root pointed at the wrong directory (/, $HOME) must
    // fail at startup rather than be read into memory.
    static constexpr std::size_t max_files = 2000;
    static constexpr std::size_t max_total_bytes = 32 * 1024 * 1024;

    // Regular files under `root` whose canonical path stays under the canonical root (a
    // symlink pointing out is skipped). Errors: the root is missing or not a directory, or it
    // holds more than the limits above; `why` says which.
    static net::result<StaticFiles> load(const std::filesystem::path& root, std::string* why);

    // The file served for a URL path ("/" is /index.html), or nothing.
    const StaticFile* find(std::string_view url_path) const;
    std::size_t size() const { return files_.size(); }

  private:
    std::map<std::string, StaticFile, std::less<>> files_;  // "/assets/x.js" -> file
};

}  // namespace keel::http
