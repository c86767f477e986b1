// `keel bootstrap` as a systemd service, without systemd: the test binds the NOTIFY_SOCKET
// datagram socket itself and reads what the process sends. READY=1 comes once it listens with its
// state loaded (and DATA_DIR/listen-addr names the address); WATCHDOG=1 comes at half of
// WATCHDOG_USEC while it works, stops while it is frozen (SIGSTOP) and resumes after SIGCONT;
// SIGTERM sends STOPPING=1 and exits 0 within 5 s. SIGHUP reloads the bootstrap list from --config.

#include <sys/socket.h>
#include <sys/un.h>

#include "scenario/scenario_support.hpp"

namespace keel::test::scenario {
namespace {

// The service manager's end of the notify protocol: one datagram per sd_notify call.
class NotifySocket {
  public:
    explicit NotifySocket(const fs::path& path) : path_(path) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
        bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~NotifySocket() {
        if (fd_ >= 0) close(fd_);
    }
    bool bound() const { return bound_; }

    struct Message {
        Clock::time_point at;
        std::string text;
    };
    // The next datagram, or nullopt after `timeout`.
    std::optional<Message> next(Clock::duration timeout) {
        auto deadline = Clock::now() + timeout;
        while (true) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
            char buf[4096];
            auto n = recv(fd_, buf, sizeof buf, 0);
            if (n > 0) return Message{Clock::now(), std::string(buf, static_cast<std::size_t>(n))};
        }
    }
    // Datagrams until one contains `needle`; nullopt after `timeout`.
    std::optional<Message> until(const std::string& needle, Clock::duration timeout) {
        auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            auto m = next(deadline - Clock::now());
            if (m && m->text.find(needle) != std::string::npos) return m;
        }
        return std::nullopt;
    }

  private:
    fs::path path_;
    int fd_ = -1;
    bool bound_ = false;
};

// Sets environment variables for the processes spawned in its lifetime.
struct ScopedEnv {
    ScopedEnv(std::vector<std::pair<std::string, std::string>> vars) : vars_(std::move(vars)) {
        for (const auto& [k, v] : vars_) setenv(k.c_str(), v.c_str(), 1);
    }
    ~ScopedEnv() {
        for (const auto& [k, v] : vars_) unsetenv(k.c_str());
    }
    std::vector<std::pair<std::string, std::string>> vars_;
};

TEST_F(ScenarioTest, NotifyReadyWatchdogAndGracefulStop) {
    NotifySocket notify(dir("notify.sock"));
    ASSERT_TRUE(notify.bound());
    KeelProcess* boot = nullptr;
    {
        // 600 ms: pings every 300 ms.
        ScopedEnv env(
            {{"NOTIFY_SOCKET", dir("notify.sock").string()}, {"WATCHDOG_USEC", "600000"}});
        boot = start_bootstrap("b1");
    }
    ASSERT_TRUE(boot);
    auto ready = notify.until("READY=1", 10s);
    ASSERT_TRUE(ready) << "no READY=1";
    auto said = ready->text;
    std::replace(said.begin(), said.end(), '\n', ' ');
    figure("service", "ready_after_spawn_s",
           num(seconds(ready->at - boot->child().started_at()), 3), {}, "\"" + said + "\"");
    std::ifstream listen_file(dir("b1") / "listen-addr");
    std::string first_line;
    std::getline(listen_file, first_line);
    EXPECT_EQ(first_line, boot->addr);

    // Periodic pings while it works.
    std::vector<Clock::time_point> pings;
    auto window_end = Clock::now() + 2s;
    while (Clock::now() < window_end)
        if (auto m = notify.until("WATCHDOG=1", window_end - Clock::now())) pings.push_back(m->at);
    ASSERT_GE(pings.size(), 4u) << "expected a WATCHDOG=1 every 300 ms";
    figure("service", "watchdog_pings_in_2s", std::to_string(pings.size()), ">=4",
           "WATCHDOG_USEC=600000");

    // Frozen: nothing for well over the watchdog interval.
    ASSERT_TRUE(boot->child().signal(SIGSTOP));
    while (notify.next(50ms)) {
    }  // what was sent before the stop
    EXPECT_FALSE(notify.until("WATCHDOG=1", 1500ms)) << "a frozen process cannot ping";
    ASSERT_TRUE(boot->child().signal(SIGCONT));
    auto resumed = notify.until("WATCHDOG=1", 3s);
    EXPECT_TRUE(resumed) << "pings did not resume after SIGCONT";

    // Graceful stop.
    auto term_at = Clock::now();
    ASSERT_TRUE(boot->child().signal(SIGTERM));
    EXPECT_TRUE(notify.until("STOPPING=1", 5s));
    auto status = boot->child().wait_exit(5s);
    ASSERT_TRUE(status) << "did not exit within 5 s of SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
    figure("service", "sigterm_to_exit_s", num(seconds(Clock::now() - term_at), 3), "<5");
}

TEST_F(ScenarioTest, SighupReloadsTheBootstrapList) {
    KeelProcess *b1 = nullptr, *b2 = nullptr;
    ASSERT_TRUE(start_bootstrap_pair(b1, b2));
    auto config = write_file("node.toml", "[node]\nbootstrap = [\"" + b1->addr + "\"]\n");
    auto* node = start_node("n", {}, config);
    ASSERT_TRUE(node);
    ASSERT_TRUE(node->wait_event(event_is("bootstrap_connected"), 30s));

    // A new list naming only B2: after SIGHUP the monitor watches B2 and not B1.
    write_file("node.toml", "[node]\nbootstrap = [\"" + b2->addr + "\"]\n");
    auto before = node->event_count();
    ASSERT_TRUE(node->child().signal(SIGHUP));
    auto reloaded = node->wait_event(event_is("reloaded"), 10s, before);
    ASSERT_TRUE(reloaded) << node->stdout_tail();
    EXPECT_NE(reloaded->body.value("result", "").find("1 entries"), std::string::npos)
        << reloaded->line;
    json health;
    std::string why;
    bool switched = poll_until(
        [&] {
            auto h = api_json(*node, "GET", "/api/v1/bootstrap/health", nullptr, 10s, &why);
            if (!h) return false;
            health = *h;
            return health["bootstraps"].size() == 1 &&
                   bootstrap_entry(health, b2->peer_id).value("state", "") == "healthy";
        },
        30s, 20ms);
    EXPECT_TRUE(switched) << health.dump(2) << why;

    // A broken file keeps the running configuration.
    write_file("node.toml", "[node]\nbootstrapp = []\n");
    before = node->event_count();
    ASSERT_TRUE(node->child().signal(SIGHUP));
    auto kept = node->wait_event(event_is("reloaded"), 10s, before);
    ASSERT_TRUE(kept);
    EXPECT_NE(kept->body.value("result", "").find("kept the running configuration"),
              std::string::npos)
        << kept->line;
    EXPECT_TRUE(node->child().running());
}

}  // namespace
}  // namespace keel::test::scenario
