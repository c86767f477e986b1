// Durability under kill -9: every provider whose `done` reported success is in the database
// after the writing process is killed mid-stream and the file is reopened.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "keel/store/store.hpp"
#include "store_test_util.hpp"

namespace keel::store {
namespace {

constexpr std::uint32_t total = 1000;
constexpr std::size_t kill_after = 500;

Bytes key_for(std::uint32_t i) {
    return to_bytes("provider-key-" + std::to_string(i));
}

// The child: saves `total` providers, writes each acknowledged index to `fd`, then waits to be
// killed. Never returns into gtest.
[[noreturn]] void run_child(const std::filesystem::path& db, int fd) {
    auto store = Store::open(db);
    if (!store) ::_exit(2);
    const PeerId provider = test::peer(1);
    const Multiaddr address = test::addr("/ip4/10.0.0.1/tcp/4001");
    for (std::uint32_t i = 0; i < total; ++i) {
        (*store)->save_provider({key_for(i), provider, {address}, INT64_MAX},
                                [fd, i](boost::system::error_code ec) {
                                    // 4 bytes < PIPE_BUF: the write is atomic.
                                    if (!ec && ::write(fd, &i, sizeof i) != sizeof i) ::_exit(3);
                                });
        // Spread the writes over several batches so the kill lands mid-stream.
        if (i % 8 == 7) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    (*store)->flush();
    for (;;) ::pause();
}

TEST(StoreKill, AcknowledgedProvidersSurviveSigkill) {
    test::TempDir dir;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        run_child(dir.db(), fds[1]);
    }
    ::close(fds[1]);

    std::set<std::uint32_t> acked;
    bool killed = false;
    std::string pending;  // a partial index split across reads
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
        pollfd p{fds[0], POLLIN, 0};
        const int ready = ::poll(&p, 1, 1000);
        if (std::chrono::steady_clock::now() > give_up) break;
        if (ready <= 0) continue;
        char buf[4096];
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;  // EOF: the child is gone
        pending.append(buf, static_cast<std::size_t>(n));
        while (pending.size() >= sizeof(std::uint32_t)) {
            std::uint32_t i;
            std::memcpy(&i, pending.data(), sizeof i);
            pending.erase(0, sizeof i);
            acked.insert(i);
        }
        if (!killed && acked.size() >= kill_after) {
            ::kill(pid, SIGKILL);
            killed = true;
        }
    }
    ::close(fds[0]);
    if (!killed) ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(killed) << "the child acknowledged only " << acked.size() << " writes";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child exited with status " << status;

    // Reopening recovers the WAL left behind by the killed process.
    std::string why;
    auto store = Store::open(dir.db(), &why);
    ASSERT_TRUE(store) << why;
    std::set<Bytes> present;
    for (auto& p : (*store)->load_providers(0)) present.insert(std::move(p.key));
    std::size_t found = 0;
    for (const auto i : acked) {
        if (present.count(key_for(i)))
            ++found;
        else
            ADD_FAILURE() << "acknowledged provider " << i << " is missing";
    }
    std::printf(
        "[ store    ] acknowledged %zu of %u before SIGKILL; %zu acknowledged found, "
        "%zu rows in total\n",
        acked.size(), total, found, present.size());
    EXPECT_EQ(found, acked.size());
}

}  // namespace
}  // namespace keel::store
