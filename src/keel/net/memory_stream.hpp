#pragma once
// Two ByteStreams connected back to back in memory, on one executor: a transport for tests and
// benchmarks that exercises every layer above TCP without sockets. Writes never block.
#include <memory>
#include <utility>

#include "keel/net/byte_stream.hpp"

namespace keel::net {

std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>> make_memory_stream_pair(
    asio::any_io_executor executor);

}  // namespace keel::net
