#include "keel/net/blocking_calls.hpp"

namespace keel::net {

asio::thread_pool& blocking_pool() {
    static auto* pool = new asio::thread_pool(blocking_workers);
    return *pool;
}

}  // namespace keel::net
