#include "keel/load/load_runner.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cmath>
#include <thread>

#include "keel/client/client_node.hpp"
#include "keel/host/host.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/kad/kad_errc.hpp"
#include "keel/kad/kad_message.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/signal.hpp"

namespace keel::load {

namespace asio = net::asio;
using net::Clock;

namespace {

double ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

// One connection's story.
struct Sample {
    Clock::time_point started{};
    double start_lag_ms = 0;
    std::optional<double> handshake_ms;
    std::optional<double> identify_ms;
    std::optional<double> find_node_ms;
    std::string failed_phase;  // empty: no failure
    std::string error;
    bool held = false;
};

// Shared by the workers and the controller (run_load's thread).
struct Counters {
    std::atomic<std::size_t> started{0};
    std::atomic<std::size_t> settled{0};  // set up completely, or failed on the way
    std::atomic<std::size_t> failed{0};
    std::atomic<std::size_t> finished{0};  // closed, whatever happened before
    std::atomic<std::ptrdiff_t> open{0};   // connections open right now (Host observers)
};

// One FIND_NODE on a fresh stream of `conn`: the number of closer peers in the answer.
net::awaitable<net::result<std::size_t>> find_node_once(Host& host,
                                                        std::shared_ptr<Connection> conn,
                                                        std::string protocol, Bytes key) {
    std::vector<std::string> wanted{std::move(protocol)};
    auto stream = co_await host.new_stream(conn, std::move(wanted));
    if (!stream) co_return stream.error().error;
    kad::KadMessage request;
    request.type = kad::MessageType::find_node;
    request.key = std::move(key);
    auto bytes = kad::encode_message(request);
    if (auto ec = co_await net::write_length_prefixed(**stream, bytes)) co_return ec;
    co_await (*stream)->close_write();  // with the request, as Dht::exchange does
    auto answer = co_await net::read_length_prefixed(**stream, kad::max_message_size);
    if (!answer) co_return answer.error();
    auto decoded = kad::decode_message(*answer);
    if (!decoded) co_return decoded.error();
    if (decoded->type != kad::MessageType::find_node)
        co_return make_error_code(kad::kad_errc::malformed_message);
    co_return decoded->closer_peers.size();
}

// One thread: an io_context, its Hosts, and every `threads`-th connection of the run.
class Worker {
  public:
    Worker(const LoadConfig& config, unsigned index, std::size_t count, Counters& counters,
           const std::vector<asio::ip::address>& sources)
        : config_(config),
          index_(index),
          counters_(counters),
          sources_(sources),
          hold_started_(io_.get_executor()),
          release_(io_.get_executor()),
          samples_(count) {}
    ~Worker() {
        // Hosts go before the io_context (host.hpp); the io_context has stopped by then.
        shared_host_.reset();
        hosts_.clear();
    }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void start(Clock::time_point t0) {
        asio::co_spawn(
            io_, [this, t0] { return schedule(t0); }, asio::detached);
        thread_ = std::thread([this] {
            io_.run();
            ran_out_ = true;
        });
    }

    // The hold has started: the FIND_NODE loops (if asked) begin.
    void start_hold() {
        asio::post(io_, [this] { hold_started_.fire(); });
    }

    // Ends the hold: every connection checks it is still open, then closes.
    void release() {
        asio::post(io_, [this] {
            release_.fire();  // wakes the waiters; later waits return at once
            if (shared_host_ && closing_ == samples_.size()) shared_host_->stop();
        });
    }

    // Waits up to `grace` for the io_context to run out of work (connections closed cleanly),
    // then stops it and joins the thread.
    void join(net::Duration grace) {
        auto deadline = Clock::now() + grace;
        while (!ran_out_ && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling interval
        io_.stop();
        if (thread_.joinable()) thread_.join();
    }

    const std::vector<Sample>& samples() const { return samples_; }
    // The hold's FIND_NODE loop: latencies of the requests that succeeded, and the failures.
    const std::vector<double>& loop_ms() const { return loop_ms_; }
    const std::map<std::string, std::uint64_t>& loop_errors() const { return loop_errors_; }

  private:
    std::size_t global_index(std::size_t k) const { return index_ + k * config_.threads; }

    HostConfig host_config(Ed25519KeyPair key, std::optional<std::size_t> fixed_source) {
        client::ClientOptions options;
        options.key = std::move(key);
        options.phase_timeout = config_.timeout;
        options.network.kad_protocol = config_.kad_protocol;
        options.network.identify_protocol_version = config_.identify_protocol_version;
        options.network.agent_version = config_.agent_version;
        options.dht = client::ClientOptions::DhtMode::none;  // one FIND_NODE each, by hand
        auto c = client::client_host_config(options);
        if (!sources_.empty()) {
            if (fixed_source) {
                auto source = sources_[*fixed_source % sources_.size()];
                c.dial_source = [source](const asio::ip::tcp::endpoint&) {
                    return std::optional<asio::ip::address>(source);
                };
            } else {
                c.dial_source = [this](const asio::ip::tcp::endpoint&) {
                    auto i = global_index(next_source_++);
                    return std::optional<asio::ip::address>(sources_[i % sources_.size()]);
                };
            }
        }
        return c;
    }

    Host* host_for(std::size_t k) {
        if (config_.shared_identity) {
            if (!shared_host_) {
                shared_host_ = std::make_unique<Host>(
                    io_.get_executor(), host_config(Ed25519KeyPair::generate(), std::nullopt));
                observe(*shared_host_);
            }
            return shared_host_.get();
        }
        hosts_.push_back(std::make_unique<Host>(
            io_.get_executor(), host_config(Ed25519KeyPair::generate(), global_index(k))));
        observe(*hosts_.back());
        return hosts_.back().get();
    }

    void observe(Host& host) {
        host.observe_connections([this](const std::shared_ptr<Connection>&, bool opened) {
            if (opened)
                ++counters_.open;
            else
                --counters_.open;
        });
    }

    net::awaitable<void> schedule(Clock::time_point t0) {
        asio::steady_timer timer(io_);
        for (std::size_t k = 0; k < samples_.size(); ++k) {
            auto offset =
                std::chrono::duration<double>(static_cast<double>(global_index(k)) / config_.rate);
            auto at = t0 + std::chrono::duration_cast<Clock::duration>(offset);
            if (at > Clock::now()) {
                timer.expires_at(at);
                co_await timer.async_wait(net::use_result);
            }
            Host* host = host_for(k);
            asio::co_spawn(
                io_, [this, k, host, at] { return run_connection(k, host, at); }, asio::detached);
        }
    }

    void fail(Sample& s, std::string phase, std::string error) {
        s.failed_phase = std::move(phase);
        s.error = std::move(error);
        ++counters_.failed;
        ++counters_.settled;
    }

    net::awaitable<void> run_connection(std::size_t k, Host* host, Clock::time_point scheduled) {
        auto& s = samples_[k];
        s.started = Clock::now();
        s.start_lag_ms = std::max(0.0, ms_between(scheduled, s.started));
        ++counters_.started;
        auto conn = co_await host->dial(config_.target);
        if (!conn) {
            fail(s, std::string(phase_name(conn.error().phase)), conn.error().error.message());
            close(host, nullptr);
            co_return;
        }
        auto upgraded = Clock::now();
        s.handshake_ms = ms_between(s.started, upgraded);
        auto identified = co_await host->wait_identified(*conn);
        if (!identified) {
            fail(s, "identify", identified.error().error.message());
            close(host, *conn);
            co_return;
        }
        s.identify_ms = ms_between(upgraded, Clock::now());
        if (config_.find_node) {
            auto asked = Clock::now();
            auto answer = co_await net::with_deadline(
                find_node_once(*host, *conn, config_.kad_protocol, host->peer_id().bytes()),
                config_.timeout);
            if (!answer) {
                fail(s, "protocol", "FIND_NODE: " + answer.error().message());
                close(host, *conn);
                co_return;
            }
            s.find_node_ms = ms_between(asked, Clock::now());
        }
        ++counters_.settled;
        if (config_.find_node_loop) co_await find_node_loop(host, *conn);
        co_await release_.wait();
        if ((*conn)->is_open()) {
            s.held = true;
        } else {
            s.failed_phase = "hold";
            s.error = "closed before the hold ended";
            ++counters_.failed;
        }
        close(host, *conn);
    }

    // FIND_NODE after FIND_NODE from the hold's start to its end. What the end cuts short is not
    // counted; a failure ends this connection's loop (a refusing target is not hammered).
    net::awaitable<void> find_node_loop(Host* host, std::shared_ptr<Connection> conn) {
        co_await hold_started_.wait();
        while (!release_.fired() && conn->is_open()) {
            auto asked = Clock::now();
            auto answer = co_await net::with_deadline(
                find_node_once(*host, conn, config_.kad_protocol, host->peer_id().bytes()),
                config_.timeout);
            if (release_.fired()) break;
            if (!answer) {
                ++loop_errors_["FIND_NODE: " + answer.error().message()];
                break;
            }
            loop_ms_.push_back(ms_between(asked, Clock::now()));
        }
    }

    void close(Host* host, const std::shared_ptr<Connection>& conn) {
        if (conn) conn->session->close();
        if (!config_.shared_identity) host->stop();
        ++closing_;
        if (shared_host_ && release_.fired() && closing_ == samples_.size()) shared_host_->stop();
        ++counters_.finished;
    }

    const LoadConfig& config_;
    const unsigned index_;
    Counters& counters_;
    const std::vector<asio::ip::address>& sources_;
    asio::io_context io_;  // declared before the Hosts: destroyed after them
    net::Signal hold_started_;
    net::Signal release_;
    std::vector<double> loop_ms_;
    std::map<std::string, std::uint64_t> loop_errors_;
    std::size_t closing_ = 0;
    std::size_t next_source_ = 0;
    std::unique_ptr<Host> shared_host_;
    std::vector<std::unique_ptr<Host>> hosts_;
    std::vector<Sample> samples_;
    std::thread thread_;
    std::atomic<bool> ran_out_{false};
};

void add_error(LoadReport& report, const std::string& phase, const std::string& message) {
    auto& e = report.errors[phase];
    ++e.count;
    ++e.messages[message];
}

}  // namespace

asio::ip::address source_address(std::size_t index) {
    // 127.1.0.1 onwards: clear of 127.0.0.1, which other local clients use.
    return asio::ip::address_v4(static_cast<std::uint32_t>(0x7F010001u + index));
}

LatencySummary summarize(std::vector<double>& samples) {
    LatencySummary out;
    out.count = samples.size();
    if (samples.empty()) return out;
    std::sort(samples.begin(), samples.end());
    auto rank = [&](double p) {
        auto n = static_cast<double>(samples.size());
        auto index = static_cast<std::size_t>(std::ceil(p / 100.0 * n));
        return samples[std::clamp<std::size_t>(index, 1, samples.size()) - 1];
    };
    out.p50 = rank(50);
    out.p90 = rank(90);
    out.p99 = rank(99);
    out.max = samples.back();
    double sum = 0;
    for (double v : samples) sum += v;
    out.mean = sum / static_cast<double>(samples.size());
    return out;
}

LoadReport run_load(const LoadConfig& in, const std::function<void(const Progress&)>& on_progress) {
    LoadConfig config = in;
    config.threads = std::max(1u, config.threads);
    if (!(config.rate > 0)) config.rate = 1;
    const std::size_t n = config.connections;

    LoadReport report;
    report.attempted = n;
    report.threads = config.threads;
    report.shared_identity = config.shared_identity;
    report.fd_limit = net::raise_fd_limit();

    // The target's process, when it runs here.
    std::optional<pid_t> pid = config.target_pid;
    if (!pid) {
        if (auto endpoint = tcp_endpoint(config.target)) {
            pid = find_listening_pid(endpoint->address(), endpoint->port());
            if (!pid)
                report.target_note = "no process on this machine is seen listening on " +
                                     endpoint->address().to_string() + ":" +
                                     std::to_string(endpoint->port());
        } else {
            report.target_note = "the target is not an IP address: give --target-pid";
        }
    }
    std::optional<TargetReport> target;
    if (pid) {
        if (auto before = sample_process(*pid)) {
            target.emplace();
            target->pid = *pid;
            target->before = *before;
            target->peak_rss_kb = before->rss_kb;
        } else {
            report.target_note = "cannot read /proc/" + std::to_string(*pid);
        }
    }

    std::vector<asio::ip::address> sources;
    if (config.source_addresses > 0) {
        for (std::size_t i = 0; i < config.source_addresses; ++i)
            sources.push_back(source_address(i));
    }
    report.source_addresses = sources.size();

    auto client_before = sample_self();
    report.load_before = load_average();
    Counters counters;
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned t = 0; t < config.threads; ++t) {
        std::size_t count = n > t ? (n - t + config.threads - 1) / config.threads : 0;
        workers.push_back(std::make_unique<Worker>(config, t, count, counters, sources));
    }
    const auto t0 = Clock::now() + std::chrono::milliseconds(20);
    for (auto& w : workers) w->start(t0);

    // The ramp and the hold, watched from here.
    std::string stage = "ramp";
    std::optional<Clock::time_point> hold_start;
    auto next_progress = t0 + config.progress_interval;
    auto next_sample = t0 + std::chrono::seconds(1);
    std::optional<std::uint64_t> last_rss;
    // Every phase has its own deadline, so setting up ends by this point however the target
    // behaves; past it the hold starts anyway.
    auto setup_bound = t0 +
                       std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(static_cast<double>(n) / config.rate)) +
                       5 * config.timeout + std::chrono::seconds(5);
    auto progress = [&](Clock::time_point now) {
        if (!on_progress) return;
        Progress p;
        p.elapsed_s = seconds_between(t0, now);
        p.stage = stage;
        p.total = n;
        p.started = counters.started;
        p.open = static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, counters.open));
        p.failed = counters.failed;
        p.target_rss_kb = last_rss;
        on_progress(p);
    };
    while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling interval
        auto now = Clock::now();
        if (!hold_start && (counters.settled == n || now >= setup_bound)) {
            hold_start = now;
            for (auto& w : workers) w->start_hold();
            report.setup_s = seconds_between(t0, now);
            stage = "hold";
            if (target) {
                if (auto s = sample_process(target->pid))
                    target->set_up = *s;
                else
                    target->exited = true;
            }
        }
        if (target && now >= next_sample) {
            if (auto s = sample_process(target->pid)) {
                last_rss = s->rss_kb;
                target->peak_rss_kb = std::max(target->peak_rss_kb, s->rss_kb);
            }
            next_sample = now + std::chrono::seconds(1);
        }
        if (now >= next_progress) {
            progress(now);
            next_progress += config.progress_interval;
        }
        if (hold_start && now >= *hold_start + config.hold) break;
    }
    report.hold_s = seconds_between(*hold_start, Clock::now());
    if (target) {
        if (auto s = sample_process(target->pid)) {
            target->loaded = *s;
            target->peak_rss_kb = std::max(target->peak_rss_kb, s->rss_kb);
        } else {
            target->exited = true;
        }
        if (!target->exited) {
            target->cpu_setup_s = target->set_up.cpu_s - target->before.cpu_s;
            target->cpu_hold_s = target->loaded.cpu_s - target->set_up.cpu_s;
        }
    }
    auto client_loaded = sample_self();
    report.load_loaded = load_average();

    // Close everything, then see what the target gives back.
    stage = "close";
    for (auto& w : workers) w->release();
    auto close_bound = Clock::now() + config.timeout + std::chrono::seconds(5);
    while (counters.finished < n && Clock::now() < close_bound)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling interval
    for (auto& w : workers) w->join(std::chrono::seconds(2));
    report.client_cpu_s = client_loaded.cpu_s - client_before.cpu_s;
    report.client_peak_rss_kb = sample_self().hwm_kb;

    std::vector<double> handshake, identify, find_node, lag, loop;
    std::map<std::string, std::uint64_t> loop_errors;
    std::optional<Clock::time_point> first_start, last_start;
    for (const auto& w : workers) {
        for (const auto& s : w->samples()) {
            if (s.started != Clock::time_point{}) {
                lag.push_back(s.start_lag_ms);
                if (!first_start || s.started < *first_start) first_start = s.started;
                if (!last_start || s.started > *last_start) last_start = s.started;
            }
            if (s.handshake_ms) handshake.push_back(*s.handshake_ms);
            if (s.identify_ms) identify.push_back(*s.identify_ms);
            if (s.find_node_ms) find_node.push_back(*s.find_node_ms);
            if (s.held) ++report.held;
            if (!s.failed_phase.empty()) add_error(report, s.failed_phase, s.error);
        }
        loop.insert(loop.end(), w->loop_ms().begin(), w->loop_ms().end());
        for (const auto& [message, count] : w->loop_errors()) loop_errors[message] += count;
    }
    workers.clear();  // the Hosts and io_contexts: every socket of ours is closed now
    if (target) {
        std::this_thread::sleep_for(config.settle);  // let the target notice the closes
        target->after = sample_process(target->pid);
        if (report.held > 0 && !target->exited)
            target->rss_per_connection_kb = (static_cast<double>(target->loaded.rss_kb) -
                                             static_cast<double>(target->before.rss_kb)) /
                                            static_cast<double>(report.held);
    }
    report.target = target;

    report.handshaked = handshake.size();
    report.identified = identify.size();
    report.find_node_ok = find_node.size();
    report.handshake = summarize(handshake);
    report.identify = summarize(identify);
    report.find_node = summarize(find_node);
    report.start_lag = summarize(lag);
    if (config.find_node_loop) {
        auto& l = report.find_node_loop.emplace();
        l.ok = loop.size();
        for (const auto& [message, count] : loop_errors) l.failed += count;
        l.errors = std::move(loop_errors);
        l.per_s = report.hold_s > 0 ? static_cast<double>(l.ok) / report.hold_s : 0;
        l.latency = summarize(loop);
    }
    if (first_start && last_start) report.ramp_s = seconds_between(*first_start, *last_start);
    report.achieved_rate =
        report.ramp_s > 0 ? static_cast<double>(lag.size() - 1) / report.ramp_s : 0;
    report.success_rate = n ? static_cast<double>(report.held) / static_cast<double>(n) : 0;
    return report;
}

}  // namespace keel::load
