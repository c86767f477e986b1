// The SQLite store (keel.db) opened on a damaged file, as after a disk error or a partial copy:
// a real database written by Store (peers, providers, records) is corrupted by the input, then
// opened and loaded, then written to. Input: byte = mode (0: the rest is the whole file; else a
// list of patches: u16 offset, chunk bytes written there). Properties: open() fails with an error
// or succeeds; loads return what they can with read_error() set rather than crash; a write to a
// damaged file fails through `done` (store_errc::write_failed) or succeeds, never hangs flush().
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz_util.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/store/store.hpp"

using namespace keel;
namespace fs = std::filesystem;

namespace {

fs::path scratch_dir() {
    static const fs::path dir = [] {
        auto d = fs::temp_directory_path() / ("keel-fuzz-store-" + std::to_string(::getpid()));
        fs::remove_all(d);
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

PeerId peer(std::uint8_t seed) {
    return PeerId::from_public_key(
        Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{seed}).public_key());
}

// A small database as Store writes it, read back as bytes.
Bytes make_template() {
    auto path = scratch_dir() / "template.db";
    {
        auto store = store::Store::open(path);
        if (!store) std::abort();
        auto addr = Multiaddr::parse("/ip4/127.0.0.1/tcp/4001").value();
        for (std::uint8_t i = 1; i <= 3; ++i) {
            (*store)->save_peer({peer(i), {addr}, 1000 * i, i % 2 == 0});
            (*store)->save_provider({to_bytes("key"), peer(i), {addr}, 4'000'000'000'000});
        }
        (*store)->save_record({to_bytes("/pk/x"), to_bytes("value"), 5});
        (*store)->flush();
    }
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Bytes original = make_template();
    fuzz::Input in(data, size);
    Bytes file;
    if (in.byte() == 0) {
        auto rest = in.rest();
        file.assign(rest.begin(), rest.end());
    } else {
        file = original;
        for (int i = 0; i < 16 && !in.empty(); ++i) {
            std::size_t offset = in.u16();
            auto patch = in.chunk();
            if (file.empty()) break;
            offset %= file.size();
            for (std::size_t j = 0; j < patch.size() && offset + j < file.size(); ++j)
                file[offset + j] = patch[j];
        }
    }
    auto path = scratch_dir() / "keel.db";
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path.string() + suffix);
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(file.data()),
                  static_cast<std::streamsize>(file.size()));
    }
    std::string why;
    auto store = store::Store::open(path, &why);
    if (!store) return 0;
    auto peers = (*store)->load_peers();
    auto providers = (*store)->load_providers(0);
    auto records = (*store)->load_records();
    std::string detail;
    (void)(*store)->read_error(&detail);
    (void)(*store)->skipped_rows();
    bool done = false;
    (*store)->save_record({to_bytes("/pk/y"), to_bytes("v"), 1},
                          [&done](boost::system::error_code) { done = true; });
    (*store)->flush();
    KEEL_FUZZ_CHECK(done);
    return 0;
}
