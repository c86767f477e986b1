// What a web page in the user's browser and a careless command line can do to a `keel node`
// (docs/security.md): real keel processes, a raw HTTP/1.1 client, and the exit codes of bad
// arguments. Each test is one item of issue 19.
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "keel/crypto/identity_file.hpp"
#include "keel/store/store.hpp"
#include "support/keel_process_test.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

namespace fs = std::filesystem;

class LocalAttacks : public KeelProcessTest {
  protected:
    // Starts `keel node` with its API (and a web UI directory) and reads the "listening" event.
    void start_node(const fs::path& data_dir, std::vector<std::string> extra = {}) {
        fs::create_directories(tmp_ / "ui");
        std::ofstream(tmp_ / "ui" / "index.html") << "<!doctype html><title>keel</title>";
        std::vector<std::string> args{
            "node",        "--listen", "/ip4/127.0.0.1/tcp/0", "--json",     "--api",
            "127.0.0.1:0", "--ui-dir", (tmp_ / "ui").string(), "--data-dir", data_dir.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        node_ = &spawn(std::move(args));
        ASSERT_TRUE(node_->started());
        auto line = node_->read_line(10s);
        ASSERT_TRUE(line.has_value()) << "keel node printed nothing";
        auto event = nlohmann::json::parse(*line, nullptr, false);
        ASSERT_EQ(event.value("event", ""), "listening") << *line;
        auto url = event.value("api", "");  // http://127.0.0.1:PORT
        ASSERT_TRUE(url.starts_with("http://127.0.0.1:")) << *line;
        api_ = tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                             static_cast<std::uint16_t>(std::stoi(url.substr(17))));
    }

    RawHttpAnswer http(const std::string& method, const std::string& target,
                       const std::string& host = "127.0.0.1", const std::string& body = "") {
        asio::io_context io;
        return raw_http(io, api_, method, target, body, host);
    }

    // Runs `keel ARGS...` to its end; its exit code, or -1 if it did not exit within `timeout`.
    int exit_code_of(std::vector<std::string> args, net::Duration timeout = 10s) {
        Child& child = spawn(std::move(args));
        if (!child.started()) return -1;
        auto status = child.wait_exit(timeout);
        if (!status || !WIFEXITED(*status)) return -1;
        return WEXITSTATUS(*status);
    }

    std::string stderr_of_last() {
        std::ifstream in(tmp_ / ("stderr-" + std::to_string(children_.size() - 1) + ".log"));
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

    Child* node_ = nullptr;
    tcp::endpoint api_;
};

// Item 1: the UI route serves the UI's files and nothing else, however the path is spelled.
TEST_F(LocalAttacks, StaticRouteServesOnlyTheUi) {
    auto data = tmp_ / "data";
    ASSERT_NO_FATAL_FAILURE(start_node(data));
    EXPECT_EQ(http("GET", "/").status, 200);
    EXPECT_EQ(http("GET", "/index.html").status, 200);
    const auto key = (data / "identity.key").string();
    for (const std::string& target :
         {std::string("//etc/passwd"), "/" + key, "//" + key, std::string("/../data/identity.key"),
          std::string("/%2e%2e/data/identity.key"), std::string("/..%2fdata%2fidentity.key"),
          std::string("/ui/../data/identity.key"), std::string("/./index.html/../../etc/passwd")}) {
        auto a = http("GET", target);
        EXPECT_EQ(a.status, 404) << target;
        EXPECT_EQ(a.body.find("root:"), std::string::npos) << target;
    }
}

// Item 2: DNS rebinding: a request naming another host is refused, on every route.
TEST_F(LocalAttacks, ForeignHostHeaderIsRefused) {
    ASSERT_NO_FATAL_FAILURE(start_node(tmp_ / "data"));
    const auto port = std::to_string(api_.port());
    for (const char* target : {"/api/v1/node", "/api/v1/peers", "/metrics", "/index.html"}) {
        EXPECT_EQ(http("GET", target, "attacker.example:" + port).status, 403) << target;
        EXPECT_EQ(http("GET", target, "127.0.0.1:" + port).status, 200) << target;
    }
    EXPECT_EQ(http("GET", "/api/v1/node", "localhost:" + port).status, 200);
    EXPECT_EQ(http("GET", "/api/v1/node", "[::1]:" + port).status, 200);
    EXPECT_EQ(http("GET", "/api/v1/node", "").status, 403);
    // A lookup is a POST now; the old GET has no side effect left to trigger.
    EXPECT_EQ(http("GET", "/api/v1/providers/some-key").status, 404);
    EXPECT_EQ(http("POST", "/api/v1/providers/find", "127.0.0.1", R"({"key":"k"})").status, 200);
}

// Item 8: bytes that are not UTF-8 in a JSON body are a 400, not a 500.
TEST_F(LocalAttacks, InvalidUtf8BodyIsA400) {
    ASSERT_NO_FATAL_FAILURE(start_node(tmp_ / "data"));
    auto a = http("POST", "/api/v1/connect", "127.0.0.1", "{\"addr\":\"\xff\xfe\"}");
    EXPECT_EQ(a.status, 400) << a.body;
    EXPECT_FALSE(nlohmann::json::parse(a.body, nullptr, false).is_discarded()) << a.body;
}

// Item 8: the API's address is parsed whole, and is loopback unless the operator says otherwise.
TEST_F(LocalAttacks, ApiAddressIsStrict) {
    auto node = [&](const std::string& api, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"node", "--listen",   "/ip4/127.0.0.1/tcp/0", "--api",
                                      api,    "--data-dir", (tmp_ / "d").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return exit_code_of(std::move(args));
    };
    EXPECT_EQ(node("127.0.0.1:abc"), 2);
    EXPECT_EQ(node("127.0.0.1:5080x"), 2);
    EXPECT_EQ(node("127.0.0.1:99999"), 2);
    EXPECT_EQ(node("127.0.0.1"), 2);
    EXPECT_EQ(node("0.0.0.0:0"), 2);
    EXPECT_NE(stderr_of_last().find("--api-allow-remote"), std::string::npos) << stderr_of_last();
}

TEST_F(LocalAttacks, BadDurationsAndLogLevelsAreRefused) {
    auto node = [&](std::vector<std::string> extra) {
        std::vector<std::string> args{"node", "--listen",   "/ip4/127.0.0.1/tcp/0", "--api",
                                      "off",  "--data-dir", (tmp_ / "d").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return exit_code_of(std::move(args));
    };
    for (const char* bad : {"inf", "nan", "99999999999999999999h", "1e9", "-1s", " 5s", "0x10"})
        EXPECT_NE(node({"--connect-timeout", bad}), 0) << bad;
    EXPECT_EQ(node({"--log-level", "loud"}), 2);
    fs::create_directories(tmp_ / "c");
    std::ofstream(tmp_ / "c" / "keel.toml") << "[connect]\ntimeout = \"inf\"\n";
    EXPECT_EQ(node({"--config", (tmp_ / "c" / "keel.toml").string()}), 2);
}

TEST_F(LocalAttacks, MissingArgumentsExitAtOnce) {
    auto t0 = net::Clock::now();
    EXPECT_EQ(exit_code_of({"dht", "provide"}, 10s), 2);
    EXPECT_EQ(exit_code_of({"dht", "put", "only-a-key"}, 10s), 2);
    EXPECT_EQ(exit_code_of({"dht", "frobnicate"}, 10s), 2);
    EXPECT_LT(seconds_since(t0), 5.0);
    int load = exit_code_of({"load",
                             "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGqBYBrUXz8ByyLWj6U4Xd"
                             "PbGHqCGBmPkQoVArLqVWmNY",
                             "-n", "-5"});
    EXPECT_NE(load, 0);
    EXPECT_NE(load, -1);
    auto text = stderr_of_last();
    EXPECT_EQ(text.find("what()"), std::string::npos) << text;
    EXPECT_EQ(text.find("std::"), std::string::npos) << text;
}

// Item 8: the identity: a FIFO is refused at once; a lost key beside existing state is an error;
// what is created is private.
TEST_F(LocalAttacks, IdentityAndDataDirectory) {
    auto data = tmp_ / "fresh" / "data";
    ASSERT_NO_FATAL_FAILURE(start_node(data));
    struct stat st {};
    ASSERT_EQ(::stat(data.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat((data / "keel.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((data / "identity.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    children_.clear();

    fs::remove(data / "identity.key");
    std::vector<std::string> again{"node", "--listen",   "/ip4/127.0.0.1/tcp/0", "--api",
                                   "off",  "--data-dir", data.string()};
    EXPECT_EQ(exit_code_of(again), 1);
    EXPECT_NE(stderr_of_last().find("is missing"), std::string::npos) << stderr_of_last();
    EXPECT_FALSE(fs::exists(data / "identity.key"));

    auto fifo_dir = tmp_ / "fifo";
    fs::create_directories(fifo_dir);
    ASSERT_EQ(::mkfifo((fifo_dir / "identity.key").c_str(), 0600), 0);
    std::vector<std::string> fifo{"node", "--listen",   "/ip4/127.0.0.1/tcp/0", "--api",
                                  "off",  "--data-dir", fifo_dir.string()};
    int code = exit_code_of(fifo, 10s);
    EXPECT_NE(code, -1) << "keel waited on a FIFO identity";
    EXPECT_NE(code, 0);
}

// Item 6: a damaged keel.db is found at startup, moved aside and named in the log; the node
// starts with an empty state instead of a silently partial one.
TEST_F(LocalAttacks, CorruptDatabaseIsQuarantined) {
    auto data = tmp_ / "data";
    fs::create_directories(data);
    ASSERT_FALSE(save_identity(data / "identity.key", Ed25519KeyPair::generate()));
    auto db = data / "keel.db";
    {
        // Enough rows to span many pages; closing the store checkpoints the WAL into keel.db.
        auto store = store::Store::open(db);
        ASSERT_TRUE(store);
        for (int i = 0; i < 300; ++i)
            (*store)->save_record(
                store::StoredRecord{to_bytes("/v/key-" + std::to_string(i)), Bytes(200, 1), 1});
        (*store)->flush();
    }
    auto size = fs::file_size(db);
    ASSERT_GE(size, 8 * 4096u);
    {
        std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
        // Page 1 holds the header and schema; pages 2.. the tables. Garbage over the B-tree
        // page headers of every page after the first.
        for (std::uint64_t off = 4096; off < size; off += 4096) {
            f.seekp(static_cast<std::streamoff>(off));
            std::string junk(64, '\xa5');
            f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
        }
    }
    ASSERT_NO_FATAL_FAILURE(start_node(data, {"--log-level", "info"}));
    bool quarantined = false;
    for (const auto& e : fs::directory_iterator(data))
        quarantined |= e.path().filename().string().starts_with("keel.db.corrupt-");
    EXPECT_TRUE(quarantined) << "the damaged file was not moved aside";
    EXPECT_NE(stderr_of_last().find("event=store_corrupt"), std::string::npos) << stderr_of_last();
}

}  // namespace
}  // namespace keel::test
