#pragma once
// Counters by the values of an enum numbered 0 … N-1: every value has its count (zero until its
// first event), so /metrics shows each series from the start and no key can be misspelled, as
// a map keyed by text could be.
#include <array>
#include <cstddef>
#include <cstdint>

namespace keel {

template <class Enum, std::size_t N>
class EnumCounts {
  public:
    void add(Enum value, std::uint64_t n = 1) { counts_.at(static_cast<std::size_t>(value)) += n; }
    std::uint64_t operator[](Enum value) const {
        return counts_.at(static_cast<std::size_t>(value));
    }
    std::uint64_t total() const {
        std::uint64_t sum = 0;
        for (auto c : counts_) sum += c;
        return sum;
    }

  private:
    std::array<std::uint64_t, N> counts_{};
};

}  // namespace keel
