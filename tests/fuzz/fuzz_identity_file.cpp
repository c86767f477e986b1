// The identity file (identity.key: a PrivateKey protobuf, go-libp2p-daemon's -id format) as read
// at startup from disk: the input is written to a temporary file and loaded. Properties: anything
// but a valid Ed25519 key of at most max_identity_file_size bytes is refused with an error; an
// accepted key saves and loads back to the same key (load(save(k)) == k), so the peer ID
// survives a restart.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fuzz_util.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/identity_file.hpp"

using namespace keel;

namespace {

std::filesystem::path scratch_dir() {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() /
                 ("keel-fuzz-identity-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto path = scratch_dir() / "identity.key";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    auto key = load_identity(path);
    if (!key) return 0;
    KEEL_FUZZ_CHECK(size <= max_identity_file_size);
    auto copy = scratch_dir() / "saved.key";
    KEEL_FUZZ_CHECK(!save_identity(copy, *key));
    auto again = load_identity(copy);
    KEEL_FUZZ_CHECK(again.has_value() && again->public_bytes() == key->public_bytes());
    return 0;
}
