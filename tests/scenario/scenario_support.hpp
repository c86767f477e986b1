#pragma once
// The scenario suite's harness: real `keel` processes on 127.0.0.1 (each with its own --data-dir
// under a per-test temp dir, port 0 everywhere, the real addresses read from the "listening"
// line), their JSON stdout lines collected by a reader thread with the time each arrived, their
// HTTP API through a small blocking client, and the figures each scenario measures: printed as
// "[figure] SCENARIO NAME=VALUE bound=… notes" and appended as a markdown table row to the file
// named by $KEEL_SCENARIO_REPORT when it is set. Nothing sleeps to wait for a condition: waits
// poll (or block on the event log) with a deadline.
// Environment: KEEL_SCENARIO_REPORT=FILE (markdown figures), KEEL_SCENARIO_KEEP=1 (keep the temp
// dir of a failed test: every process's stderr log is there), KEEL_SCENARIO_LOG_LEVEL (--log-level
// of the processes; debug by default, info for scenario 5), KEEL_SCENARIO_CYCLES (scenario 5).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/http_client.hpp"

namespace keel::test::scenario {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}
inline double millis(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}
inline std::string num(double value, int precision = 2) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", precision, value);
    return buf;
}

// Prints one measured figure and appends it to $KEEL_SCENARIO_REPORT (a markdown table, its
// header written when the file is new or empty).
inline void figure(const std::string& scenario, const std::string& name, const std::string& value,
                   const std::string& bound = {}, const std::string& notes = {}) {
    std::string line = "[figure] " + scenario + " " + name + "=" + value;
    if (!bound.empty()) line += " bound=" + bound;
    if (!notes.empty()) line += " " + notes;
    std::cout << line << std::endl;
    const char* report = std::getenv("KEEL_SCENARIO_REPORT");
    if (!report || !*report) return;
    std::error_code ec;
    bool fresh = !fs::exists(report, ec) || fs::file_size(report, ec) == 0;
    std::ofstream out(report, std::ios::app);
    if (!out) return;
    if (fresh) out << "| scenario | figure | value | bound | notes |\n|---|---|---|---|---|\n";
    auto cell = [](std::string s) {
        for (auto& c : s)
            if (c == '|' || c == '\n') c = ' ';
        return s;
    };
    out << "| " << cell(scenario) << " | " << cell(name) << " | " << cell(value) << " | "
        << cell(bound.empty() ? "—" : bound) << " | " << cell(notes) << " |\n";
}

// Polls `done()` every `step` until it holds; false once `timeout` has passed.
inline bool poll_until(const std::function<bool()>& done, Clock::duration timeout,
                       Clock::duration step = 20ms) {
    auto deadline = Clock::now() + timeout;
    while (!done()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);  // the polling interval, not a wait for the condition
    }
    return true;
}

// A port on 127.0.0.1 that nobody listens on (bound once, then released).
inline std::uint16_t closed_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

// "/ip4/127.0.0.1/tcp/PORT/p2p/ID" → PORT; 0 if the address has no /tcp/.
inline std::uint16_t tcp_port_of(const std::string& multiaddr) {
    auto at = multiaddr.find("/tcp/");
    if (at == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::atoi(multiaddr.c_str() + at + 5));
}

// One line a process printed on stdout, with the moment the reader thread got it.
struct Event {
    std::size_t index = 0;
    Clock::time_point at{};
    std::string line;
    json body;  // discarded (is_discarded()) when the line is not JSON

    std::string name() const {
        return body.is_object() ? body.value("event", std::string()) : std::string();
    }
};

using EventMatch = std::function<bool(const json&)>;

// Matches {"event": NAME, …} and, when given, every key/value in `fields`.
inline EventMatch event_is(std::string name, json fields = json::object()) {
    return [name = std::move(name), fields = std::move(fields)](const json& j) {
        if (!j.is_object() || j.value("event", std::string()) != name) return false;
        for (const auto& [key, value] : fields.items())
            if (!j.contains(key) || j[key] != value) return false;
        return true;
    };
}

// A {"event":"bootstrap_health"} line about `peer_id` whose state is one of `states`.
inline EventMatch health_event(std::string peer_id, std::vector<std::string> states) {
    return [peer_id = std::move(peer_id), states = std::move(states)](const json& j) {
        if (!j.is_object() || j.value("event", std::string()) != "bootstrap_health") return false;
        if (!j.contains("peer_id") || j["peer_id"] != peer_id) return false;
        auto state = j.value("state", std::string());
        return std::find(states.begin(), states.end(), state) != states.end();
    };
}

// A running `keel` process, its stdout collected line by line by a reader thread.
class KeelProcess {
  public:
    KeelProcess(std::string name, const std::vector<std::string>& args, fs::path stderr_file)
        : name_(std::move(name)),
          stderr_file_(std::move(stderr_file)),
          child_(std::make_unique<Child>(args, stderr_file_)) {
        if (child_->started()) reader_ = std::thread([this] { read_loop(); });
    }
    ~KeelProcess() {
        stop_ = true;
        if (child_->running()) {
            child_->signal(SIGCONT);
            child_->signal(SIGKILL);
        }
        if (reader_.joinable()) reader_.join();
        child_.reset();  // reaps
    }
    KeelProcess(const KeelProcess&) = delete;
    KeelProcess& operator=(const KeelProcess&) = delete;

    const std::string& name() const { return name_; }
    Child& child() { return *child_; }
    const fs::path& stderr_file() const { return stderr_file_; }

    // From the "listening" line.
    std::string peer_id;
    std::string addr;  // the first of "addrs": /ip4/127.0.0.1/tcp/PORT/p2p/ID
    std::optional<HttpUrl> api;

    // The first event at index >= `from` that matches; nullopt when none arrived in `timeout`
    // (or stdout ended without one).
    std::optional<Event> wait_event(const EventMatch& match, Clock::duration timeout,
                                    std::size_t from = 0) {
        auto deadline = Clock::now() + timeout;
        std::unique_lock lock(mu_);
        std::size_t next = from;
        while (true) {
            for (; next < events_.size(); ++next)
                if (match(events_[next].body)) return events_[next];
            if (eof_) return std::nullopt;
            if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
                for (; next < events_.size(); ++next)
                    if (match(events_[next].body)) return events_[next];
                return std::nullopt;
            }
        }
    }
    // Every event at index >= `from` that matches, so far.
    std::vector<Event> find_events(const EventMatch& match, std::size_t from = 0) const {
        std::lock_guard lock(mu_);
        std::vector<Event> out;
        for (std::size_t i = from; i < events_.size(); ++i)
            if (match(events_[i].body)) out.push_back(events_[i]);
        return out;
    }
    std::size_t event_count() const {
        std::lock_guard lock(mu_);
        return events_.size();
    }
    bool stdout_closed() const {
        std::lock_guard lock(mu_);
        return eof_;
    }
    // The last `n` lines of stdout, for failure messages.
    std::string stdout_tail(std::size_t n = 20) const {
        std::lock_guard lock(mu_);
        std::string out;
        for (std::size_t i = events_.size() > n ? events_.size() - n : 0; i < events_.size(); ++i)
            out += events_[i].line + "\n";
        return out;
    }
    std::string stderr_tail(std::size_t n = 30) const {
        std::ifstream in(stderr_file_);
        std::deque<std::string> lines;
        for (std::string line; std::getline(in, line);) {
            lines.push_back(std::move(line));
            if (lines.size() > n) lines.pop_front();
        }
        std::string out;
        for (const auto& l : lines) out += l + "\n";
        return out;
    }

  private:
    void read_loop() {
        while (!stop_) {
            auto line = child_->read_line(100ms);
            auto at = Clock::now();
            if (!line) {
                if (child_->eof()) break;
                continue;
            }
            Event e;
            e.at = at;
            e.line = std::move(*line);
            e.body = json::parse(e.line, nullptr, false);
            {
                std::lock_guard lock(mu_);
                e.index = events_.size();
                events_.push_back(std::move(e));
            }
            cv_.notify_all();
        }
        {
            std::lock_guard lock(mu_);
            eof_ = true;
        }
        cv_.notify_all();
    }

    std::string name_;
    fs::path stderr_file_;
    std::unique_ptr<Child> child_;
    std::thread reader_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Event> events_;
    bool eof_ = false;
};

// The fixture: a temp dir per test, the processes it started (SIGKILLed at the end), their logs
// shown when the test failed.
class ScenarioTest : public ::testing::Test {
  protected:
    void SetUp() override {
        static std::atomic<int> counter{0};
        tmp_ = fs::temp_directory_path() /
               ("keel-scen-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(tmp_);
        ASSERT_TRUE(fs::create_directories(tmp_));
    }

    void TearDown() override {
        bool failed = HasFailure();
        if (failed) {
            for (const auto& p : procs_) {
                std::cout << "---- " << p->name() << " (pid " << p->child().pid()
                          << ") stdout tail:\n"
                          << p->stdout_tail() << "---- " << p->name() << " stderr tail ("
                          << p->stderr_file().string() << "):\n"
                          << p->stderr_tail() << std::flush;
            }
        }
        procs_.clear();  // SIGKILLs and reaps whatever still runs
        const char* keep = std::getenv("KEEL_SCENARIO_KEEP");
        if (keep && *keep && failed) {
            std::cout << "kept " << tmp_.string() << "\n";
            return;
        }
        std::error_code ignored;
        fs::remove_all(tmp_, ignored);
    }

    fs::path dir(const std::string& name) const { return tmp_ / name; }

    fs::path write_file(const std::string& name, const std::string& text) {
        auto path = tmp_ / name;
        std::ofstream(path) << text;
        return path;
    }

    // Starts `keel ARGS...` (the binary is prepended); stderr goes to TMP/NAME.stderr.
    KeelProcess& spawn(const std::string& name, std::vector<std::string> args) {
        args.insert(args.begin(), KEEL_BINARY);
        procs_.push_back(std::make_unique<KeelProcess>(name, args, tmp_ / (name + ".stderr")));
        return *procs_.back();
    }

    // Waits for the "listening" line and reads the process's addresses from it. False (with a
    // test failure that shows the process's stderr) when it does not come.
    bool await_listening(KeelProcess& p, Clock::duration timeout = 30s) {
        if (!p.child().started()) {
            ADD_FAILURE() << "cannot spawn " << KEEL_BINARY;
            return false;
        }
        auto e = p.wait_event(event_is("listening"), timeout);
        if (!e) {
            ADD_FAILURE() << p.name() << " printed no \"listening\" line within "
                          << seconds(timeout) << " s; stdout:\n"
                          << p.stdout_tail() << "stderr:\n"
                          << p.stderr_tail();
            return false;
        }
        const auto& j = e->body;
        p.peer_id = j.value("peer_id", "");
        if (j.contains("addrs") && j["addrs"].is_array() && !j["addrs"].empty())
            p.addr = j["addrs"][0].get<std::string>();
        if (auto api = j.value("api", std::string()); !api.empty()) p.api = HttpUrl::parse(api);
        if (p.peer_id.empty() || !p.addr.starts_with("/ip4/127.0.0.1/tcp/") ||
            !p.addr.ends_with("/p2p/" + p.peer_id)) {
            ADD_FAILURE() << p.name() << ": unexpected listening line " << e->line;
            return false;
        }
        return true;
    }

    // `keel bootstrap` on an ephemeral port, with an API (for its routing table) and the given
    // bootstrap peers; nullptr (and a test failure) if it does not start.
    KeelProcess* start_bootstrap(const std::string& name,
                                 const std::vector<std::string>& peers = {},
                                 const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args{"bootstrap",   "--listen",   "/ip4/127.0.0.1/tcp/0",
                                      "--json",      "--data-dir", dir(name).string(),
                                      "--log-level", log_level(),  "--api",
                                      "127.0.0.1:0"};
        for (const auto& p : peers) args.insert(args.end(), {"--bootstrap", p});
        args.insert(args.end(), extra.begin(), extra.end());
        auto& p = spawn(name, args);
        return await_listening(p) ? &p : nullptr;
    }

    // `keel node --json --api 127.0.0.1:0` on an ephemeral port with the given bootstraps (and
    // `--config FILE` when `config` is not empty).
    KeelProcess* start_node(const std::string& name, const std::vector<std::string>& bootstraps,
                            const fs::path& config = {},
                            const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args{"node",        "--listen",   "/ip4/127.0.0.1/tcp/0",
                                      "--json",      "--data-dir", dir(name).string(),
                                      "--log-level", log_level(),  "--api",
                                      "127.0.0.1:0"};
        if (!config.empty()) args.insert(args.end(), {"--config", config.string()});
        for (const auto& b : bootstraps) args.insert(args.end(), {"--bootstrap", b});
        args.insert(args.end(), extra.begin(), extra.end());
        auto& p = spawn(name, args);
        if (!await_listening(p)) return nullptr;
        if (!p.api) {
            ADD_FAILURE() << name << " serves no API";
            return nullptr;
        }
        return &p;
    }

    // --log-level of the processes started from now on ($KEEL_SCENARIO_LOG_LEVEL, else debug).
    std::string log_level() const {
        if (!log_level_.empty()) return log_level_;
        const char* level = std::getenv("KEEL_SCENARIO_LOG_LEVEL");
        return level && *level ? level : "debug";
    }
    std::string log_level_;

    // One API request to `p`; the reply's body parsed as JSON into `out` (discarded if not JSON).
    HttpReply api(const KeelProcess& p, std::string_view method, std::string_view target,
                  const json& body = nullptr, Clock::duration timeout = 30s) {
        if (!p.api) return HttpReply{0, "no API", {}, {}};
        return http_request(*p.api, method, target, body.is_null() ? std::string() : body.dump(),
                            std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
    }
    // GET/POST returning the JSON object of a 2xx answer; nullopt otherwise (`why` says what).
    std::optional<json> api_json(const KeelProcess& p, std::string_view method,
                                 std::string_view target, const json& body = nullptr,
                                 Clock::duration timeout = 30s, std::string* why = nullptr) {
        auto r = api(p, method, target, body, timeout);
        auto j = json::parse(r.body, nullptr, false);
        if (r.status < 200 || r.status > 299 || !j.is_object()) {
            if (why)
                *why = std::string(method) + " " + std::string(target) + ": status " +
                       std::to_string(r.status) + " " + r.error + " " + r.body;
            return std::nullopt;
        }
        return j;
    }

    // The entry for `peer_id` in a GET /api/v1/bootstrap/health answer; {} when absent.
    static json bootstrap_entry(const json& health, const std::string& peer_id) {
        if (!health.is_object() || !health.contains("bootstraps") ||
            !health["bootstraps"].is_array())
            return json::object();
        for (const auto& b : health["bootstraps"])
            if (b.is_object() && b.value("peer_id", json()) == peer_id) return b;
        return json::object();
    }

    // Polls the node's bootstrap health until every listed bootstrap is healthy and the node
    // itself is; false after `timeout` (`last` holds the last answer).
    bool wait_all_healthy(const KeelProcess& node, const std::vector<std::string>& peer_ids,
                          Clock::duration timeout, json& last) {
        return poll_until(
            [&] {
                auto h = api_json(node, "GET", "/api/v1/bootstrap/health");
                if (!h) return false;
                last = *h;
                if (h->value("node_state", "") != "healthy") return false;
                for (const auto& id : peer_ids) {
                    if (bootstrap_entry(*h, id).value("state", "") != "healthy") return false;
                }
                return true;
            },
            timeout, 50ms);
    }

    // Polls GET /api/v1/node until the routing table holds at least `n` peers.
    bool wait_routing_table(const KeelProcess& p, std::size_t n, Clock::duration timeout) {
        return poll_until(
            [&] {
                auto j = api_json(p, "GET", "/api/v1/node");
                return j && j->value("routing_table_size", std::size_t{0}) >= n;
            },
            timeout, 50ms);
    }

    // Two `keel bootstrap` processes that know each other, so that each one's FIND_NODE answers
    // with a peer (the other): a bootstrap that knows nobody is only "degraded".
    bool start_bootstrap_pair(KeelProcess*& b1, KeelProcess*& b2, const std::string& prefix = "b") {
        b1 = start_bootstrap(prefix + "1");
        if (!b1) return false;
        b2 = start_bootstrap(prefix + "2", {b1->addr});
        if (!b2) return false;
        if (!wait_routing_table(*b2, 1, 30s) || !wait_routing_table(*b1, 1, 30s)) {
            ADD_FAILURE() << "the two bootstraps did not learn each other within 30 s";
            return false;
        }
        return true;
    }

    fs::path tmp_;
    std::vector<std::unique_ptr<KeelProcess>> procs_;
};

}  // namespace keel::test::scenario
