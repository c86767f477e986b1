#pragma once
// Runs a function when the scope ends, however it ends (return, co_return, exception, a coroutine
// destroyed while suspended): the one way Keel releases what a scope counted or registered.
#include <utility>

namespace keel {

template <class F>
class ScopeExit {
  public:
    explicit ScopeExit(F f) : f_(std::move(f)) {}
    ~ScopeExit() { f_(); }
    ScopeExit(const ScopeExit&) = delete;
    ScopeExit& operator=(const ScopeExit&) = delete;

  private:
    F f_;
};

}  // namespace keel
