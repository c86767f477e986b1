// The local web server's two guards that need no network: which Host headers it answers
// (DNS rebinding) and which files it serves (only those indexed under the UI root).
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <vector>

#include "keel/api/http_server.hpp"
#include "keel/api/static_files.hpp"

namespace keel::api {
namespace {

namespace fs = std::filesystem;

TEST(HostHeader, OnlyIpLiteralsAndLocalhost) {
    for (const char* good : {"127.0.0.1", "127.0.0.1:5080", "localhost:5080", "LOCALHOST",
                             "[::1]:5080", "[::1]", "10.0.0.7:9464"})
        EXPECT_TRUE(host_header_allowed(good)) << good;
    for (const char* bad :
         {"", "attacker.example", "attacker.example:5080", "127.0.0.1.nip.io",
          "localhost.attacker.example", "[::1", "[::1]x", "[evil]:80", "127.1:5080"})
        EXPECT_FALSE(host_header_allowed(bad)) << bad;
}

class StaticFilesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        root = fs::temp_directory_path() / ("keel-static-" + std::to_string(::getpid()));
        fs::remove_all(root);
        fs::create_directories(root / "ui" / "assets");
        std::ofstream(root / "ui" / "index.html") << "<html>";
        std::ofstream(root / "ui" / "assets" / "app.js") << "js";
        std::ofstream(root / "secret.key") << "secret";
        fs::create_symlink(root / "secret.key", root / "ui" / "link.key");
    }
    void TearDown() override { fs::remove_all(root); }
    fs::path root;
};

TEST_F(StaticFilesTest, ServesIndexedFilesByTheirExactPath) {
    std::string why;
    auto files = StaticFiles::load(root / "ui", &why);
    ASSERT_TRUE(files) << why;
    EXPECT_EQ(files->size(), 2u);  // the symlink out of the root is not indexed
    ASSERT_NE(files->find("/"), nullptr);
    EXPECT_EQ(files->find("/")->body, "<html>");
    ASSERT_NE(files->find("/assets/app.js"), nullptr);
    EXPECT_EQ(files->find("/assets/app.js")->content_type, "text/javascript; charset=utf-8");
    for (const std::string& bad : std::vector<std::string>{
             "/link.key", "/../secret.key", "//" + (root / "secret.key").string(),
             (root / "secret.key").string(), "/assets/../../secret.key", "/%2e%2e/secret.key",
             "/assets//app.js", "/./index.html", "/index.html/"})
        EXPECT_EQ(files->find(bad), nullptr) << bad;
}

TEST_F(StaticFilesTest, RefusesAMissingRoot) {
    std::string why;
    EXPECT_FALSE(StaticFiles::load(root / "nope", &why));
    EXPECT_NE(why.find("not a directory"), std::string::npos);
}

}  // namespace
}  // namespace keel::api
