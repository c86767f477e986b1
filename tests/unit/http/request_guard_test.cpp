// The local web server's guards that need no network: which Host headers it answers (DNS
// rebinding), which Origins may change state, which files it serves (only those indexed under the
// UI root), and which connection gives way when all are taken.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <vector>

#include "keel/http/connection_slots.hpp"
#include "keel/http/request_guard.hpp"
#include "keel/http/static_files.hpp"

namespace keel::http {
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

TEST(OriginPolicy, StateChangesOnlyFromTheServersOwnOriginsOrNone) {
    OriginPolicy policy;
    policy.allow_server_at({boost::asio::ip::make_address("127.0.0.1"), 5080});
    for (const char* own : {"http://127.0.0.1:5080", "http://localhost:5080", "http://[::1]:5080"})
        EXPECT_TRUE(policy.allows("POST", own)) << own;
    EXPECT_TRUE(policy.allows("POST", ""));  // curl, scripts: no Origin at all
    for (const char* other :
         {"http://attacker.example", "http://127.0.0.1:5081", "https://127.0.0.1:5080",
          "http://localhost:5080.attacker.example", "null"})
        EXPECT_FALSE(policy.allows("POST", other)) << other;
    EXPECT_FALSE(policy.allows("DELETE", "http://attacker.example"));
    // Reads are guarded by the Host check and by the browser's same-origin rule, not here.
    EXPECT_TRUE(policy.allows("GET", "http://attacker.example"));
    EXPECT_TRUE(policy.allows("HEAD", "http://attacker.example"));
}

TEST(OriginPolicy, AServerBoundToOneAddressAlsoAcceptsThatAddress) {
    OriginPolicy policy;
    policy.allow_server_at({boost::asio::ip::make_address("10.0.0.7"), 9464});
    policy.allow_server_at({boost::asio::ip::make_address("fd00::7"), 9464});
    EXPECT_TRUE(policy.allows("POST", "http://10.0.0.7:9464"));
    EXPECT_TRUE(policy.allows("POST", "http://[fd00::7]:9464"));
    EXPECT_TRUE(policy.allows("POST", "http://127.0.0.1:9464"));
    EXPECT_FALSE(policy.allows("POST", "http://10.0.0.8:9464"));
    OriginPolicy wildcard;
    wildcard.allow_server_at({boost::asio::ip::make_address("0.0.0.0"), 9464});
    EXPECT_FALSE(wildcard.allows("POST", "http://0.0.0.0:9464"));
}

TEST(ConnectionSlots, WhenFullTheLongestWaitingConnectionGivesWay) {
    ConnectionSlots slots(2);
    std::vector<int> closed;
    auto a = slots.take();
    auto b = slots.take();
    ASSERT_TRUE(a && b);
    a->close = [&] { closed.push_back(1); };
    b->close = [&] { closed.push_back(2); };
    a->since = net::Clock::now() - std::chrono::seconds(5);  // a has waited longest
    auto c = slots.take();
    ASSERT_TRUE(c);
    EXPECT_EQ(closed, std::vector<int>{1});
    EXPECT_EQ(slots.size(), 2u);
    EXPECT_EQ(slots.evicted(), 1u);
    slots.release(a);  // its session ends later: nothing more happens
    EXPECT_EQ(slots.size(), 2u);
}

TEST(ConnectionSlots, BusyConnectionsAndEventStreamsNeverGiveWay) {
    ConnectionSlots slots(2);
    auto a = slots.take();
    auto b = slots.take();
    a->state = ConnectionSlots::Slot::State::busy;
    b->state = ConnectionSlots::Slot::State::events;
    EXPECT_FALSE(slots.take());
    EXPECT_EQ(slots.evicted(), 0u);
    slots.release(b);
    EXPECT_TRUE(slots.take());
}

TEST(ConnectionSlots, CloseAllClosesEveryConnection) {
    ConnectionSlots slots(4);
    int closed = 0;
    std::vector<std::shared_ptr<ConnectionSlots::Slot>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(slots.take());
        // Closing ends the session, which gives its slot back while close_all is running.
        held.back()->close = [&, weak = std::weak_ptr(held.back())] {
            ++closed;
            if (auto slot = weak.lock()) slots.release(slot);
        };
    }
    slots.close_all();
    EXPECT_EQ(closed, 3);
    EXPECT_EQ(slots.size(), 0u);
}

}  // namespace
}  // namespace keel::http
