#pragma once
// The go/rust interop matrix's harness: foreign test peers (tests/interop/peer-contract.md) and
// `keel` processes run as children whose JSON lines are collected (the scenario suite's
// KeelProcess), plus a Keel host in this process on its own thread for what only the library
// can show (which muxer a connection chose, what identify stored, streams opened by Keel).
//
// Each test records its verdict for the table (`matrix-table.sh` prints it): the case name and
// the peer, appended to $KEEL_INTEROP_MATRIX_REPORT when set.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <future>
#include <thread>

#include "keel/host/host.hpp"
#include "keel/kad/dht.hpp"
#include "keel/protocols/echo.hpp"
#include "scenario/scenario_support.hpp"

namespace keel::test::interop {

using namespace keel::test::scenario;
namespace asio = net::asio;

// The foreign peers of the matrix: "go" (go-libp2p v0.52), "rust-0.53" and "rust-0.56".
inline const std::vector<std::string>& foreign_peers() {
    static const std::vector<std::string> all{"go", "rust-0.53", "rust-0.56"};
    return all;
}

// Where scripts/setup put the peer binaries ($KEEL_INTEROP_BIN, else /var/cache/keel-interop/bin).
inline fs::path peer_binary(const std::string& kind) {
    const char* dir = std::getenv("KEEL_INTEROP_BIN");
    fs::path bin = dir && *dir ? dir : "/var/cache/keel-interop/bin";
    return bin / (kind == "go" ? "go-peer" : "rust-peer-" + kind.substr(5));
}

// gtest parameter names cannot hold '-' or '.': "rust-0.53" → "rust_0_53".
inline std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
    std::string name = info.param;
    for (auto& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
}

// Matches an action's result line {"action": NAME, "ok": ...}.
inline EventMatch action_is(std::string name) {
    return [name = std::move(name)](const json& j) {
        return j.is_object() && j.value("action", std::string()) == name;
    };
}

// A Keel host (and optionally its DHT) running on its own thread. Everything that touches them
// goes through run() or await(), which execute on that thread.
class InProcessKeel {
  public:
    explicit InProcessKeel(HostConfig config, std::optional<kad::DhtConfig> dht = std::nullopt)
        : work_(asio::make_work_guard(io_)) {
        host_ = std::make_unique<Host>(io_.get_executor(), std::move(config));
        host_->set_handler(std::string(protocols::echo_protocol_id),
                           [this](std::shared_ptr<net::YamuxStream> stream,
                                  std::shared_ptr<Connection>) -> net::awaitable<void> {
                               co_await protocols::serve_echo(*stream,
                                                              host_->config().stream_idle_timeout);
                           });
        auto bound = host_->listen(Multiaddr::parse("/ip4/127.0.0.1/tcp/0").value());
        if (bound)
            addr_ = bound->without(proto_code::p2p)
                        .with_component(proto_code::p2p, host_->peer_id().bytes());
        if (dht) {
            dht_ = std::make_unique<kad::Dht>(*host_, std::move(*dht));
            dht_->start();
        }
        thread_ = std::thread([this] {
            io_.run();
            finished_.set_value();
        });
    }
    ~InProcessKeel() {
        run([this] {
            if (dht_) dht_->stop();
            host_->stop();
        });
        work_.reset();
        // Connections close within their GoAway linger; past 5 s, stop what is left.
        if (finished_future_.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
            io_.stop();
        thread_.join();
        dht_.reset();
        host_.reset();
    }
    InProcessKeel(const InProcessKeel&) = delete;
    InProcessKeel& operator=(const InProcessKeel&) = delete;

    const std::optional<Multiaddr>& addr() const { return addr_; }
    std::string addr_text() const { return addr_ ? addr_->to_string() : std::string(); }
    std::string peer_id() const { return host_->peer_id().to_base58(); }
    Host& host() { return *host_; }
    kad::Dht& dht() { return *dht_; }

    // Runs `f` on the host's thread and returns its result.
    template <class F>
    auto run(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        asio::post(io_, std::move(task));
        return result.get();
    }

    // Runs the coroutine `make()` returns on the host's thread; nullopt if it did not finish
    // within `timeout` (it is then cancelled).
    template <class MakeTask>
    auto await(MakeTask make, std::chrono::milliseconds timeout)
        -> std::optional<typename decltype(make())::value_type> {
        using T = typename decltype(make())::value_type;
        auto out = std::make_shared<std::optional<T>>();
        auto done = std::make_shared<std::promise<void>>();
        auto finished = done->get_future();
        auto cancel = std::make_shared<asio::cancellation_signal>();
        // `make` (and whatever the coroutine borrows from it) lives until the coroutine ends.
        auto holder = std::make_shared<MakeTask>(std::move(make));
        asio::post(io_, [this, holder, out, done, cancel] {
            asio::co_spawn(
                io_, store((*holder)(), out),
                asio::bind_cancellation_slot(
                    cancel->slot(), [done, holder](std::exception_ptr) { done->set_value(); }));
        });
        if (finished.wait_for(timeout) != std::future_status::ready) {
            asio::post(io_, [cancel] { cancel->emit(asio::cancellation_type::all); });
            finished.wait_for(std::chrono::seconds(5));
            return std::nullopt;
        }
        return std::move(*out);
    }

  private:
    template <class T>
    static net::awaitable<void> store(net::awaitable<T> task,
                                      std::shared_ptr<std::optional<T>> out) {
        out->emplace(co_await std::move(task));
    }

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::unique_ptr<Host> host_;
    std::unique_ptr<kad::Dht> dht_;
    std::optional<Multiaddr> addr_;
    std::promise<void> finished_;
    std::future<void> finished_future_ = finished_.get_future();
    std::thread thread_;
};

// The fixture of every matrix test: GetParam() is the foreign peer (or what a mixed case varies).
class InteropTest : public ScenarioTest, public ::testing::WithParamInterface<std::string> {
  protected:
    void TearDown() override {
        record_verdict();
        ScenarioTest::TearDown();
    }

    std::string kind() const { return GetParam(); }

    // Starts the foreign peer `kind` with `args` (its stderr in the test's temp dir). When
    // `listen` is set it is given `--listen /ip4/127.0.0.1/tcp/0` and its "listening" line read.
    KeelProcess* start_peer(const std::string& name, const std::string& kind,
                            std::vector<std::string> args, bool listen = true) {
        auto bin = peer_binary(kind);
        if (!fs::exists(bin)) {
            ADD_FAILURE() << bin << " is missing: scripts/setup builds the interop peers "
                          << "(tests/interop/go/build.sh, tests/interop/rust/build.sh)";
            return nullptr;
        }
        if (listen) args.insert(args.begin(), {"--listen", "/ip4/127.0.0.1/tcp/0"});
        args.insert(args.begin(), bin.string());
        procs_.push_back(std::make_unique<KeelProcess>(name, args, tmp_ / (name + ".stderr")));
        auto& p = *procs_.back();
        if (listen && !await_listening(p)) return nullptr;
        return &p;
    }

    // The result line of `action` (the first one at or after `from`); fails the test with the
    // peer's output when it is missing or not ok.
    std::optional<json> expect_action(KeelProcess& p, const std::string& action,
                                      Clock::duration timeout = 60s, std::size_t from = 0) {
        auto e = p.wait_event(action_is(action), timeout, from);
        if (!e) {
            ADD_FAILURE() << p.name() << ": no \"" << action << "\" result within "
                          << seconds(timeout) << " s; stdout:\n"
                          << p.stdout_tail() << "stderr:\n"
                          << p.stderr_tail();
            return std::nullopt;
        }
        if (!e->body.value("ok", false)) {
            ADD_FAILURE() << p.name() << ": " << action << " failed: " << e->line << "\nstderr:\n"
                          << p.stderr_tail();
            return std::nullopt;
        }
        return e->body;
    }

    // The case's name in the table (the test name without its parameter) and its column.
    virtual std::string case_name() const {
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        if (auto slash = name.find('/'); slash != std::string::npos) name.resize(slash);
        return name;
    }
    virtual std::string column() const { return GetParam(); }

  private:
    void record_verdict() {
        const char* report = std::getenv("KEEL_INTEROP_MATRIX_REPORT");
        if (!report || !*report) return;
        std::ofstream out(report, std::ios::app);
        out << case_name() << '\t' << column() << '\t' << (HasFailure() ? "FAIL" : "PASS") << '\n';
    }
};

}  // namespace keel::test::interop
