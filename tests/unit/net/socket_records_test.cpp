// reserve_socket_records opens sockets only to make the reactor's records; it leaves no socket
// open behind it.
#include "keel/net/socket_records.hpp"

#include <filesystem>

#include <gtest/gtest.h>

namespace keel::net {
namespace {

std::size_t open_descriptors() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

TEST(SocketRecords, OpensThatManySocketsAndLeavesNoneOpen) {
    asio::io_context io;
    reserve_socket_records(io.get_executor(), 1);  // the reactor's own descriptors come first
    auto before = open_descriptors();
    EXPECT_EQ(reserve_socket_records(io.get_executor(), 64), 64u);
    EXPECT_EQ(open_descriptors(), before);
    EXPECT_EQ(reserve_socket_records(io.get_executor(), 0), 0u);
}

}  // namespace
}  // namespace keel::net
