#pragma once
// A child process with its stdout on a pipe (stderr goes to a file, for post-mortems), shared by
// the integration and scenario suites. Every wait has a deadline: reads poll the pipe, exits wait
// on a pidfd (polling waitpid where there is none). The destructor SIGKILLs (after a SIGCONT, in
// case the test stopped it) and reaps a child that still runs.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace keel::test {

class Child {
  public:
    using Clock = std::chrono::steady_clock;
    using Duration = std::chrono::milliseconds;

    Child(const std::vector<std::string>& args, const std::filesystem::path& stderr_file) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) return;
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_file.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        pid_t pid = -1;
        started_at_ = Clock::now();
        int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(fds[1]);
        if (rc != 0) {
            close(fds[0]);
            return;
        }
        pid_ = pid;
        out_fd_ = fds[0];
        pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    }
    ~Child() {
        if (running()) {
            kill(pid_, SIGCONT);  // a stopped child dies of SIGKILL too, but be explicit
            kill(pid_, SIGKILL);
            int status = 0;
            waitpid(pid_, &status, 0);
        }
        if (out_fd_ >= 0) close(out_fd_);
        if (pidfd_ >= 0) close(pidfd_);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    bool started() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    bool running() const { return pid_ > 0 && !status_; }
    // When posix_spawn was called.
    Clock::time_point started_at() const { return started_at_; }
    // stdout reached its end (the child closed it or exited).
    bool eof() const { return eof_; }
    // Sends `sig` to the child if it still runs; false otherwise.
    bool signal(int sig) const { return running() && kill(pid_, sig) == 0; }

    // One line of stdout (without the newline); nullopt on EOF or timeout (see eof()).
    std::optional<std::string> read_line(Duration timeout) {
        auto deadline = Clock::now() + timeout;
        while (true) {
            if (auto nl = buffered_.find('\n'); nl != std::string::npos) {
                std::string line = buffered_.substr(0, nl);
                buffered_.erase(0, nl + 1);
                return line;
            }
            if (!fill(deadline)) return std::nullopt;
        }
    }

    // Everything up to EOF; nullopt if the child keeps stdout open past the deadline.
    std::optional<std::string> read_all(Duration timeout) {
        auto deadline = Clock::now() + timeout;
        while (!eof_)
            if (!fill(deadline) && !eof_) return std::nullopt;
        return std::exchange(buffered_, {});
    }

    // The raw wait status once the child has exited; nullopt if it has not within `timeout`.
    // Waits on a pidfd (readable when the child exits); polls waitpid where there is none.
    // `tick` runs between checks when given, e.g. to drive an io_context meanwhile.
    std::optional<int> wait_exit(Duration timeout, const std::function<void()>& tick = {}) {
        auto deadline = Clock::now() + timeout;
        while (!status_) {
            int status = 0;
            pid_t r = waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                status_ = status;
                exited_at_ = Clock::now();
                break;
            }
            if (r < 0) return std::nullopt;
            auto now = Clock::now();
            if (now >= deadline) return std::nullopt;
            if (tick) {
                tick();
            } else if (pidfd_ >= 0) {
                auto left = std::chrono::duration_cast<Duration>(deadline - now);
                pollfd p{pidfd_, POLLIN, 0};
                poll(&p, 1, static_cast<int>(left.count()) + 1);
            } else {
                std::this_thread::sleep_for(Duration(5));  // one polling interval
            }
        }
        return status_;
    }
    // When wait_exit() saw the child gone.
    std::optional<Clock::time_point> exited_at() const { return exited_at_; }

  private:
    // Reads what is available before the deadline; false on EOF or timeout.
    bool fill(Clock::time_point deadline) {
        if (eof_ || out_fd_ < 0) return false;
        auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{out_fd_, POLLIN, 0};
        int ready = poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) return true;
        if (ready <= 0) return false;
        char chunk[4096];
        ssize_t n = read(out_fd_, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) return true;
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buffered_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    pid_t pid_ = -1;
    int out_fd_ = -1;
    int pidfd_ = -1;
    std::string buffered_;
    bool eof_ = false;
    std::optional<int> status_;
    Clock::time_point started_at_{};
    std::optional<Clock::time_point> exited_at_;
};

}  // namespace keel::test
