// Identity file: raw protobuf PrivateKey bytes (go-libp2p-daemon -id format), mode 0600.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "keel/crypto/crypto_errc.hpp"
#include "keel/crypto/identity_file.hpp"
#include "keel/crypto/peer_id.hpp"
#include "test_vectors.hpp"

namespace keel {
namespace {

namespace fs = std::filesystem;

class IdentityFile : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("keel-identity-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    static void write(const fs::path& p, const Bytes& data) {
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary)
            .write(reinterpret_cast<const char*>(data.data()), static_cast<long>(data.size()));
    }
    static unsigned mode(const fs::path& p) {
        struct stat st {};
        ::stat(p.c_str(), &st);
        return st.st_mode & 07777;
    }

    fs::path dir_;
};

TEST_F(IdentityFile, SaveLoadRoundTripWithPrivateModes) {
    const fs::path path = dir_ / "a" / "b" / "identity.key";
    const auto key = Ed25519KeyPair::generate();
    ASSERT_FALSE(save_identity(path, key));
    EXPECT_EQ(mode(path), 0600u);
    EXPECT_EQ(mode(dir_ / "a" / "b"), 0700u);
    EXPECT_EQ(mode(dir_ / "a"), 0700u);
    auto loaded = load_identity(path);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->public_bytes(), key.public_bytes());
    EXPECT_EQ(loaded->marshal_private(), key.marshal_private());
    // Only the key file remains: the temporary file was renamed, not copied.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "a" / "b"), fs::directory_iterator{}), 1);

    // Overwriting replaces the key atomically.
    const auto other = Ed25519KeyPair::generate();
    ASSERT_FALSE(save_identity(path, other));
    EXPECT_EQ(load_identity(path)->public_bytes(), other.public_bytes());
}

TEST_F(IdentityFile, ReadsGoDaemonFormat) {
    // The spec's Ed25519 PrivateKey bytes, as go-libp2p-daemon writes them.
    const auto v = test::key_vector("ED25519");
    write(dir_ / "id", v.private_key);
    auto key = load_identity(dir_ / "id");
    ASSERT_TRUE(key);
    EXPECT_EQ(PeerId::from_public_key(key->public_key()).to_base58(), v.peer_id_base58);
}

TEST_F(IdentityFile, RefusesGarbageOversizedAndOtherKeyTypes) {
    write(dir_ / "garbage", to_bytes("not a key"));
    EXPECT_EQ(load_identity(dir_ / "garbage").error(), crypto_errc::key_file_format);
    write(dir_ / "huge", Bytes(max_identity_file_size + 1, 0x08));
    EXPECT_EQ(load_identity(dir_ / "huge").error(), crypto_errc::key_file_format);
    write(dir_ / "rsa", test::key_vector("rsa").private_key);
    EXPECT_EQ(load_identity(dir_ / "rsa").error(), crypto_errc::key_file_format);
    write(dir_ / "empty", {});
    EXPECT_EQ(load_identity(dir_ / "empty").error(), crypto_errc::key_file_format);
    EXPECT_EQ(load_identity(dir_ / "missing").error(), crypto_errc::key_file_io);
    // load_or_create must not replace an unusable file (that would change the peer ID).
    bool created = true;
    EXPECT_EQ(load_or_create_identity(dir_ / "garbage", &created).error(),
              crypto_errc::key_file_format);
    EXPECT_FALSE(created);
}

TEST_F(IdentityFile, LoadOrCreateIsStable) {
    const fs::path path = dir_ / "node" / "key";
    bool created = false;
    auto first = load_or_create_identity(path, &created);
    ASSERT_TRUE(first);
    EXPECT_TRUE(created);
    EXPECT_EQ(mode(path), 0600u);
    auto second = load_or_create_identity(path, &created);
    ASSERT_TRUE(second);
    EXPECT_FALSE(created);
    EXPECT_EQ(second->public_bytes(), first->public_bytes());
}

TEST_F(IdentityFile, SaveFailsCleanlyWhenDirectoryIsAFile) {
    write(dir_ / "file", to_bytes("x"));
    EXPECT_EQ(save_identity(dir_ / "file" / "key", Ed25519KeyPair::generate()),
              crypto_errc::key_file_io);
}

}  // namespace
}  // namespace keel
