#pragma once
// A test fixture for tests that run the keel binary: a fresh temp directory per test and
// spawn(ARGS) for `keel ARGS...` with stderr kept in that directory; every child still running is
// killed and reaped after the test, and the directory removed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace keel::test {

class KeelProcessTest : public ::testing::Test {
  protected:
    void SetUp() override {
        static std::atomic<int> counter{0};
        tmp_ = std::filesystem::temp_directory_path() /
               ("keel-it-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(tmp_);
        ASSERT_TRUE(std::filesystem::create_directories(tmp_));
    }

    void TearDown() override {
        children_.clear();  // SIGKILLs and reaps whatever still runs
        std::error_code ignored;
        std::filesystem::remove_all(tmp_, ignored);
    }

    Child& spawn(std::vector<std::string> args) {
        args.insert(args.begin(), KEEL_BINARY);
        auto log = tmp_ / ("stderr-" + std::to_string(children_.size()) + ".log");
        children_.push_back(std::make_unique<Child>(args, log));
        return *children_.back();
    }

    std::filesystem::path tmp_;
    std::vector<std::unique_ptr<Child>> children_;
};

}  // namespace keel::test
