#pragma once
// Multiaddr: a self-describing network address, "/ip4/1.2.3.4/tcp/4001/p2p/12D3Koo..." in text
// and <varint code><value>... in binary. A Multiaddr always holds a valid, canonical value, so
// to_string() and to_bytes() cannot fail and equal addresses compare equal.
#include <fmt/format.h>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"
#include "keel/multiaddr/protocols.hpp"

namespace keel {

class Multiaddr {
  public:
    struct Component {
        std::uint32_t code;
        Bytes value;  // binary form; empty for protocols without a value
        friend bool operator==(const Component&, const Component&) = default;
        friend auto operator<=>(const Component&, const Component&) = default;
    };

    // Bounds on untrusted input.
    static constexpr std::size_t max_bytes = 1024;
    static constexpr std::size_t max_components = 32;
    static constexpr std::size_t max_value_size = 255;

    // On failure `why` (if given) receives a human message naming the failing component, e.g.
    // "unknown protocol 'foo'" or "invalid ip4 address '1.2.3'".
    static boost::system::result<Multiaddr> parse(std::string_view text,
                                                  std::string* why = nullptr);
    static boost::system::result<Multiaddr> from_bytes(BytesView bytes, std::string* why = nullptr);

    std::string to_string() const;
    Bytes to_bytes() const;
    // to_bytes().size(), without building the bytes (the peer store's accounting asks often).
    std::size_t byte_size() const;

    const std::vector<Component>& components() const { return components_; }
    bool empty() const { return components_.empty(); }
    // First component with `code`, or nullptr.
    const Component* find(std::uint32_t code) const;

    Multiaddr encapsulate(const Multiaddr& other) const;
    // Appends a component; `value` must be valid binary for `code` (callers build it from
    // trusted data such as a PeerId's bytes).
    Multiaddr with_component(std::uint32_t code, Bytes value) const&;
    // The same on a temporary, without copying its components: `std::move(a).with_component(…)`.
    Multiaddr with_component(std::uint32_t code, Bytes value) &&;
    // All components with `code` removed.
    Multiaddr without(std::uint32_t code) const;
    // Text form of one component's value ("127.0.0.1", "4001", "12D3Koo..."); empty if none.
    std::string component_value_text(const Component& c) const;

    friend bool operator==(const Multiaddr&, const Multiaddr&) = default;
    friend auto operator<=>(const Multiaddr&, const Multiaddr&) = default;

  private:
    std::vector<Component> components_;
};

}  // namespace keel

// `log().info("addr={}", addr)`: written out only when a line is (see PeerId's formatter).
template <>
struct fmt::formatter<keel::Multiaddr> : fmt::formatter<std::string_view> {
    auto format(const keel::Multiaddr& addr, fmt::format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(addr.to_string(), ctx);
    }
};
