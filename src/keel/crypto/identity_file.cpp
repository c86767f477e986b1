#include "keel/crypto/identity_file.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "keel/crypto/crypto_errc.hpp"

namespace keel {
namespace {

namespace fs = std::filesystem;

// Closes a file descriptor on scope exit.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

bool write_all(int fd, BytesView data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

bool fsync_dir(const fs::path& dir) {
    Fd d{::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    return d.fd >= 0 && ::fsync(d.fd) == 0;
}

}  // namespace

bool create_private_dirs(const fs::path& dir) {
    if (dir.empty()) return true;
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return true;
    if (!create_private_dirs(dir.parent_path())) return false;
    return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
}

boost::system::result<Ed25519KeyPair> load_identity(const fs::path& path) {
    // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; only a regular file
    // is read. On a regular file the flag changes nothing.
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
    if (f.fd < 0) return crypto_errc::key_file_io;
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return crypto_errc::key_file_io;
    // Read one byte past the limit so an oversized file is detected without trusting st_size.
    std::vector<std::uint8_t> buf(max_identity_file_size + 1);
    std::size_t got = 0;
    while (got < buf.size()) {
        const ssize_t n = ::read(f.fd, buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            sodium_memzero(buf.data(), buf.size());
            return crypto_errc::key_file_io;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    boost::system::result<Ed25519KeyPair> key = crypto_errc::key_file_format;
    if (got <= max_identity_file_size) {
        auto parsed = Ed25519KeyPair::unmarshal_private(BytesView(buf.data(), got));
        if (parsed) key = std::move(*parsed);
    }
    sodium_memzero(buf.data(), buf.size());
    return key;
}

boost::system::error_code save_identity(const fs::path& path, const Ed25519KeyPair& key) {
    const fs::path dir = path.parent_path();
    if (!create_private_dirs(dir)) return crypto_errc::key_file_io;

    // mkstemp creates the file with mode 0600 and a name no one else can be using.
    std::string tmp = path.string() + ".tmp.XXXXXX";
    Fd f{::mkstemp(tmp.data())};
    if (f.fd < 0) return crypto_errc::key_file_io;
    Bytes data = key.marshal_private();
    const bool written = ::fchmod(f.fd, 0600) == 0 && write_all(f.fd, data) && ::fsync(f.fd) == 0;
    sodium_memzero(data.data(), data.size());
    const int fd = f.fd;
    f.fd = -1;
    // The rename is atomic, and the fsyncs before and after it make it durable: after a crash
    // the path holds either the previous file or the complete new one.
    if (::close(fd) != 0 || !written || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return crypto_errc::key_file_io;
    }
    if (!fsync_dir(dir)) return crypto_errc::key_file_io;
    return {};
}

boost::system::result<Ed25519KeyPair> load_or_create_identity(const fs::path& path, bool* created) {
    if (created) *created = false;
    std::error_code ec;
    const auto status = fs::symlink_status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) return crypto_errc::key_file_io;
    if (fs::exists(status)) return load_identity(path);

    const Ed25519KeyPair key = Ed25519KeyPair::generate();
    if (auto err = save_identity(path, key)) return err;
    if (created) *created = true;
    return key;
}

}  // namespace keel
