// The Kademlia DHT end to end, over 127.0.0.1: persistence across kill -9 of the keel binary
// (`keel bootstrap --data-dir D`): provider records acknowledged as durable survive a SIGKILL that
// lands mid-stream, and the restarted node has the same peer ID; and the routing table the
// bootstrap persisted comes back after kill -9 and answers FIND_NODE at once, while the peers in
// it are gone.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "keel/kad/dht.hpp"
#include "support/dht_nodes.hpp"

namespace keel::test {
namespace {

// ---- persistence across kill -9 of the keel binary ------------------------------------------

class TempDir {
  public:
    TempDir() {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("keel-dht-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// The keel binary as a child process; a thread drains its stdout (so it never blocks on a full
// pipe) into a buffer we can read lines from. stderr goes to a file.
class KeelProcess {
  public:
    KeelProcess(const std::vector<std::string>& args, const std::filesystem::path& stderr_file) {
        std::vector<std::string> argv_storage{KEEL_BINARY};
        argv_storage.insert(argv_storage.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_storage) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::string err_path = stderr_file.string();
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) return;
        pid_ = ::fork();
        if (pid_ == 0) {
            int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(out[1], 1);
            if (err >= 0) ::dup2(err, 2);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        fd_ = out[0];
        if (pid_ < 0) return;
        reader_ = std::thread([this] {
            char buffer[4096];
            while (true) {
                auto n = ::read(fd_, buffer, sizeof buffer);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                std::lock_guard lock(mutex_);
                output_.append(buffer, static_cast<std::size_t>(n));
            }
        });
    }
    ~KeelProcess() {
        if (running()) {
            signal(SIGKILL);
            wait(5s);
        }
        if (reader_.joinable()) reader_.join();
        if (fd_ >= 0) ::close(fd_);
    }
    KeelProcess(const KeelProcess&) = delete;
    KeelProcess& operator=(const KeelProcess&) = delete;

    bool started() const { return pid_ > 0; }
    bool running() const { return pid_ > 0 && !exited_; }
    void signal(int sig) {
        if (running()) ::kill(pid_, sig);
    }
    // Waits for the process to exit; false if it is still running after `timeout`.
    bool wait(net::Duration timeout) {
        return poll_until(
            [&] {
                if (!running()) return true;
                int status = 0;
                if (::waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
                return exited_;
            },
            timeout);
    }
    // The first line of stdout, once it is complete.
    std::optional<std::string> first_line(net::Duration timeout) {
        std::optional<std::string> line;
        poll_until(
            [&] {
                std::lock_guard lock(mutex_);
                auto end = output_.find('\n');
                if (end != std::string::npos) line = output_.substr(0, end);
                return line.has_value() || exited_;
            },
            timeout);
        return line;
    }

  private:
    pid_t pid_ = -1;
    int fd_ = -1;
    bool exited_ = false;
    std::thread reader_;
    std::mutex mutex_;
    std::string output_;
};

net::awaitable<void> provide_key(kad::Dht& dht, Bytes key,
                                 std::shared_ptr<std::vector<char>> acknowledged,
                                 std::size_t index) {
    auto r = co_await dht.provide(std::move(key));
    if (r && r->acknowledged > 0) (*acknowledged)[index] = 1;
}

net::awaitable<void> check_provider(kad::Dht& dht, PeerId server, Multiaddr addr, Bytes key,
                                    PeerId provider, std::shared_ptr<FindTally> tally) {
    std::vector<Multiaddr> addrs{std::move(addr)};
    auto r = co_await dht.request(server, message(kad::MessageType::get_providers, std::move(key)),
                                  std::move(addrs));
    if (r && std::any_of(r->provider_peers.begin(), r->provider_peers.end(),
                         [&](const kad::KadPeer& p) { return p.id == provider; }))
        ++tally->found;
    else
        tally->fail(r ? "no provider" : r.error().message());
}

Bytes persisted_key(std::size_t i) {
    return to_bytes("keel-dht-persistence-key-" + std::to_string(i));
}

TEST(DhtPersistence, AcknowledgedProvidersSurviveKill9) {
    // At least 1000 provider records acknowledged, and the kill lands while more are in flight.
    constexpr std::size_t total = 1500;
    constexpr std::size_t kill_after = 1000;
    TempDir data;
    TempDir logs;
    const std::vector<std::string> args{"bootstrap",   "--data-dir", data.path().string(),
                                        "--json",      "--listen",   "/ip4/127.0.0.1/tcp/0",
                                        "--log-level", "warn"};

    // -- run 1: the bootstrap, and a client that provides `total` keys to it
    auto boot = std::make_unique<KeelProcess>(args, logs.path() / "run1.stderr");
    ASSERT_TRUE(boot->started());
    auto line = boot->first_line(20s);
    ASSERT_TRUE(line.has_value()) << "no output from " << KEEL_BINARY;
    auto first = nlohmann::json::parse(*line);
    const std::string peer_text = first.at("peer_id").get<std::string>();
    const auto boot_id = PeerId::parse(peer_text).value();
    const auto boot_addr = Multiaddr::parse(first.at("addrs").at(0).get<std::string>()).value();

    std::vector<std::size_t> ack_indices;
    PeerId provider;
    {
        asio::io_context io;
        std::vector<DhtNode> nodes;
        std::vector<std::unique_ptr<Host>> none;
        nodes.push_back(make_node(io, dht_config(false, 10s)));
        provider = nodes[0].id();
        std::vector<Multiaddr> peers{boot_addr};
        auto reached = run_task(io, nodes[0].dht->bootstrap(std::move(peers)), 20s);
        ASSERT_TRUE(reached.has_value() && *reached == 1u) << "cannot reach the bootstrap";
        auto t0 = net::Clock::now();
        auto acknowledged = std::make_shared<std::vector<char>>(total, 0);
        auto acked = [&] {
            return static_cast<std::size_t>(
                std::count(acknowledged->begin(), acknowledged->end(), 1));
        };
        kad::Dht* dht = nodes[0].dht.get();
        auto finished = spawn_parallel(
            io, total, 32, [dht, acknowledged](std::size_t i) -> net::awaitable<void> {
                return provide_key(*dht, persisted_key(i), acknowledged, i);
            });
        // kill -9 in the middle of the stream, with ADD_PROVIDERs in flight: no clean shutdown,
        // no final flush. Whatever was acknowledged must survive.
        EXPECT_TRUE(run_until(
            io, [&] { return acked() >= kill_after; }, 60s))
            << "only " << acked() << " acknowledged";
        const std::size_t acked_at_kill = acked();
        boot->signal(SIGKILL);
        ASSERT_TRUE(boot->wait(10s));
        // The provides still in flight fail (connection gone), the rest find no peer.
        EXPECT_TRUE(run_until(
            io, [&] { return *finished == total; }, 60s));
        for (std::size_t i = 0; i < total; ++i)
            if ((*acknowledged)[i]) ack_indices.push_back(i);
        std::printf(
            "[ persist  ] providing %zu keys: SIGKILL after %zu acknowledged as durable "
            "(%.2f s); %zu acknowledged in all\n",
            total, acked_at_kill, seconds_since(t0), ack_indices.size());
        shut_down_nodes(io, nodes, none);
    }
    boot.reset();
    ASSERT_GE(ack_indices.size(), kill_after);

    // -- run 2: same data dir
    auto t_restart = net::Clock::now();
    KeelProcess again(args, logs.path() / "run2.stderr");
    ASSERT_TRUE(again.started());
    line = again.first_line(20s);
    ASSERT_TRUE(line.has_value()) << "no output after restart";
    double to_listening = seconds_since(t_restart);
    auto second = nlohmann::json::parse(*line);
    EXPECT_EQ(second.at("peer_id").get<std::string>(), peer_text);
    const std::size_t restored = second.at("restored").at("providers").get<std::size_t>();
    const auto addr2 = Multiaddr::parse(second.at("addrs").at(0).get<std::string>()).value();

    asio::io_context io;
    std::vector<DhtNode> nodes;
    std::vector<std::unique_ptr<Host>> none;
    nodes.push_back(make_node(io, dht_config(false, 2s)));
    kad::Dht* dht = nodes[0].dht.get();
    // Time to the first FIND_NODE answer: retried until one comes back (each try is bounded).
    bool answered = false;
    auto deadline = net::Clock::now() + 20s;
    while (!answered && net::Clock::now() < deadline) {
        std::vector<Multiaddr> addrs{addr2};
        auto r = run_task(
            io,
            dht->request(boot_id, message(kad::MessageType::find_node, random_bytes(32, 3)),
                         std::move(addrs)),
            5s);
        answered = r && *r && (*r)->type == kad::MessageType::find_node;
    }
    double to_find_node = seconds_since(t_restart);
    ASSERT_TRUE(answered) << "the restarted bootstrap never answered FIND_NODE";

    auto t0 = net::Clock::now();
    auto tally = std::make_shared<FindTally>();
    bool done = run_parallel(
        io, ack_indices.size(), 32,
        [&, tally](std::size_t j) -> net::awaitable<void> {
            return check_provider(*dht, boot_id, addr2, persisted_key(ack_indices[j]), provider,
                                  tally);
        },
        60s);
    EXPECT_TRUE(done) << "GET_PROVIDERS did not finish";
    std::printf(
        "[ persist  ] after kill -9 and restart: same peer ID %s; %zu providers restored; "
        "%zu of %zu acknowledged keys found by GET_PROVIDERS (%.2f s); listening after "
        "%.3f s, first FIND_NODE answer after %.3f s\n",
        second.at("peer_id").get<std::string>() == peer_text ? "yes" : "NO", restored, tally->found,
        ack_indices.size(), seconds_since(t0), to_listening, to_find_node);
    for (const auto& f : tally->failures) ADD_FAILURE() << f;
    EXPECT_EQ(tally->found, ack_indices.size());
    EXPECT_GE(restored, ack_indices.size());
    shut_down_nodes(io, nodes, none);
    again.signal(SIGTERM);
    EXPECT_TRUE(again.wait(10s));
}

// What a `keel bootstrap` has persisted in <data dir>/keel.db, read with a read-only connection
// of our own (the node keeps writing meanwhile, WAL mode lets both work).
class ReadOnlyDb {
  public:
    explicit ReadOnlyDb(const std::filesystem::path& file) {
        if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
            sqlite3_close_v2(db_);
            db_ = nullptr;
            return;
        }
        sqlite3_busy_timeout(db_, 2000);
    }
    ~ReadOnlyDb() {
        if (db_) sqlite3_close_v2(db_);
    }
    ReadOnlyDb(const ReadOnlyDb&) = delete;
    ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;

    // SELECT count(*) FROM peers WHERE in_routing_table=1; nullopt while the file or the table
    // does not exist yet, or on any other SQLite error.
    std::optional<std::size_t> routing_table_count() {
        std::optional<std::size_t> out;
        query("SELECT count(*) FROM peers WHERE in_routing_table=1", [&](sqlite3_stmt* st) {
            out = static_cast<std::size_t>(sqlite3_column_int64(st, 0));
        });
        return out;
    }
    std::set<PeerId> routing_table_peers() {
        std::set<PeerId> out;
        query("SELECT id FROM peers WHERE in_routing_table=1", [&](sqlite3_stmt* st) {
            const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, 0));
            const auto size = static_cast<std::size_t>(sqlite3_column_bytes(st, 0));
            if (auto id = PeerId::from_bytes(BytesView(blob, size))) out.insert(*id);
        });
        return out;
    }

  private:
    bool query(const char* sql, const std::function<void(sqlite3_stmt*)>& row) {
        if (!db_) return false;
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
            sqlite3_finalize(st);
            return false;
        }
        int rc = SQLITE_ROW;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE;
    }

    sqlite3* db_ = nullptr;
};

TEST(DhtPersistence, RoutingTableRestoredAfterKill9) {
    // 12 DHT servers join the bootstrap's routing table; once keel.db says so, kill -9 the
    // bootstrap, stop the servers, restart the bootstrap on the same data dir: its "restored"
    // line and a FIND_NODE to it must show the same 12 peers, with their addresses.
    constexpr std::size_t server_count = 12;
    TempDir data;
    TempDir logs;
    const std::vector<std::string> args{"bootstrap",   "--data-dir", data.path().string(),
                                        "--json",      "--listen",   "/ip4/127.0.0.1/tcp/0",
                                        "--log-level", "warn"};
    const auto db_file = data.path() / "keel.db";

    // -- run 1: the bootstrap, and 12 in-process servers bootstrapping into it
    auto boot = std::make_unique<KeelProcess>(args, logs.path() / "run1.stderr");
    ASSERT_TRUE(boot->started());
    auto line = boot->first_line(20s);
    ASSERT_TRUE(line.has_value()) << "no output from " << KEEL_BINARY;
    auto first = nlohmann::json::parse(*line);
    const std::string peer_text = first.at("peer_id").get<std::string>();
    const auto boot_id = PeerId::parse(peer_text).value();
    const auto boot_addr = Multiaddr::parse(first.at("addrs").at(0).get<std::string>()).value();
    EXPECT_EQ(first.at("restored").at("routing_table").get<std::size_t>(), 0u);

    std::map<PeerId, Multiaddr> servers;  // id -> listen address (no /p2p)
    std::size_t persisted = 0;
    std::set<PeerId> persisted_ids;
    double to_persisted = 0;
    {
        asio::io_context io;
        std::vector<DhtNode> nodes;
        std::vector<std::unique_ptr<Host>> none;
        for (std::size_t i = 0; i < server_count; ++i)
            nodes.push_back(make_node(io, dht_config(true, 5s)));
        for (const auto& n : nodes) servers.emplace(n.id(), n.addr.without(proto_code::p2p));
        auto t0 = net::Clock::now();
        auto reached = std::make_shared<std::vector<std::size_t>>(server_count, 0);
        bool done = run_parallel(
            io, server_count, server_count,
            [&nodes, boot_addr, reached](std::size_t i) -> net::awaitable<void> {
                return bootstrap_one(*nodes[i].dht, boot_addr, reached, i);
            },
            30s);
        ASSERT_TRUE(done) << "bootstrap did not finish";
        for (std::size_t i = 0; i < server_count; ++i) ASSERT_EQ((*reached)[i], 1u) << i;

        // Poll keel.db (the io_context keeps running: the servers must stay connected).
        ReadOnlyDb db(db_file);
        std::optional<std::size_t> count;
        auto deadline = net::Clock::now() + 20s;
        while (net::Clock::now() < deadline) {
            count = db.routing_table_count();
            if (count && *count >= server_count) break;
            io.run_for(50ms);
        }
        to_persisted = seconds_since(t0);
        ASSERT_TRUE(count.has_value()) << "cannot read " << db_file;
        ASSERT_GE(*count, server_count) << "only " << *count << " routing-table peers persisted";

        // kill -9 while the servers are still connected: no clean shutdown, no final flush.
        boot->signal(SIGKILL);
        ASSERT_TRUE(boot->wait(10s));
        shut_down_nodes(io, nodes, none);
    }
    boot.reset();
    {
        // What survived the kill (peer updates commit with synchronous=NORMAL: a process crash
        // loses none of the committed ones).
        ReadOnlyDb db(db_file);
        auto count = db.routing_table_count();
        ASSERT_TRUE(count.has_value()) << "cannot read " << db_file << " after the kill";
        persisted = *count;
        persisted_ids = db.routing_table_peers();
    }
    EXPECT_EQ(persisted_ids.size(), persisted);
    for (const auto& [id, addr] : servers)
        EXPECT_TRUE(persisted_ids.contains(id)) << id.short_string() << " not persisted";

    // -- run 2: same data dir; the servers are gone
    auto t_restart = net::Clock::now();
    KeelProcess again(args, logs.path() / "run2.stderr");
    ASSERT_TRUE(again.started());
    line = again.first_line(20s);
    ASSERT_TRUE(line.has_value()) << "no output after restart";
    auto second = nlohmann::json::parse(*line);
    EXPECT_EQ(second.at("peer_id").get<std::string>(), peer_text);
    const auto& restored = second.at("restored");
    const std::size_t restored_table = restored.at("routing_table").get<std::size_t>();
    const std::size_t restored_peers = restored.at("peers").get<std::size_t>();
    const auto addr2 = Multiaddr::parse(second.at("addrs").at(0).get<std::string>()).value();
    EXPECT_EQ(restored_table, persisted);
    EXPECT_GE(restored_peers, persisted);

    asio::io_context io;
    std::vector<DhtNode> nodes;
    std::vector<std::unique_ptr<Host>> none;
    nodes.push_back(make_node(io, dht_config(false, 2s)));
    kad::Dht* dht = nodes[0].dht.get();
    std::optional<kad::KadMessage> answer;
    auto deadline = net::Clock::now() + 20s;
    while (!answer && net::Clock::now() < deadline) {
        std::vector<Multiaddr> addrs{addr2};
        auto r = run_task(
            io,
            dht->request(boot_id, message(kad::MessageType::find_node, random_bytes(32, 21)),
                         std::move(addrs)),
            5s);
        if (r && *r && (*r)->type == kad::MessageType::find_node) answer = std::move(**r);
    }
    double to_find_node = seconds_since(t_restart);
    ASSERT_TRUE(answer.has_value()) << "the restarted bootstrap never answered FIND_NODE";

    std::size_t restored_returned = 0, with_right_addr = 0;
    for (const auto& p : answer->closer_peers) {
        if (persisted_ids.contains(p.id)) ++restored_returned;
        auto server = servers.find(p.id);
        if (server != servers.end() && has_addr(p.addrs, server->second)) ++with_right_addr;
        EXPECT_TRUE(persisted_ids.contains(p.id))
            << p.id.short_string() << " returned but not in the persisted table";
        EXPECT_FALSE(p.connected) << p.id.short_string() << " reported connected";
    }
    std::printf(
        "[ persist  ] routing table: %zu peers persisted (%.2f s after the servers started "
        "joining), kill -9; restart restored %zu routing-table peers (%zu peers in all); "
        "FIND_NODE returned %zu closer peers (%zu restored, %zu with the server's address); "
        "first FIND_NODE answer %.3f s after restart\n",
        persisted, to_persisted, restored_table, restored_peers, answer->closer_peers.size(),
        restored_returned, with_right_addr, to_find_node);
    // k = 20 > 12: every restored peer is among the closest to any key.
    EXPECT_EQ(answer->closer_peers.size(), std::min<std::size_t>(persisted, 20));
    EXPECT_EQ(restored_returned, answer->closer_peers.size());
    EXPECT_EQ(with_right_addr, answer->closer_peers.size());
    shut_down_nodes(io, nodes, none);
    again.signal(SIGTERM);
    EXPECT_TRUE(again.wait(10s));
}

}  // namespace
}  // namespace keel::test
