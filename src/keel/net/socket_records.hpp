#pragma once
// Boost.Asio's epoll reactor keeps a record (descriptor_state, under 200 bytes) for every socket
// open at once and, when a socket closes, keeps the record in a pool for reuse without ever
// freeing it. Made one at a time during a burst of connections, the records end up scattered
// among the connections' buffers, and after the burst each keeps its 4 KiB page resident:
// 5,000 connections left a bootstrap 21 MiB above its cold start that malloc_trim could not give
// back (docs/performance.md, "Memory given back"). Opening `count` sockets at once before
// connections arrive makes the records side by side, a few hundred KiB, and every later
// connection reuses one of them.
#include <cstddef>

#include "keel/net/asio.hpp"

namespace keel::net {

// Opens up to `count` sockets on `executor`'s reactor and closes them; returns how many it opened
// (fewer when the descriptor limit is reached first: the rest are made as connections come).
std::size_t reserve_socket_records(asio::any_io_executor executor, std::size_t count);

}  // namespace keel::net
