#include "keel/host/tcp_address.hpp"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "keel/net/blocking_calls.hpp"
#include "keel/net/net_errc.hpp"

namespace keel {

namespace asio = net::asio;
using asio::ip::tcp;

namespace {

// Not loopback, unspecified, multicast, private (RFC 1918, fc00::/7), carrier-grade NAT
// (100.64.0.0/10), link-local or an IPv4-mapped IPv6 address.
bool reaches_the_internet(const asio::ip::address& ip) {
    if (ip.is_loopback() || ip.is_unspecified() || ip.is_multicast()) return false;
    if (ip.is_v4()) {
        const auto b = ip.to_v4().to_bytes();
        return !(b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
                 (b[0] == 192 && b[1] == 168) || (b[0] == 100 && (b[1] & 0xc0) == 64) ||
                 (b[0] == 169 && b[1] == 254));
    }
    const auto v6 = ip.to_v6();
    if (v6.is_v4_mapped()) return false;
    const auto b = v6.to_bytes();
    return !(v6.is_link_local() || (b[0] & 0xfe) == 0xfc);
}

// The IP of an /ip4 or /ip6 component; nullopt for any other.
std::optional<asio::ip::address> ip_of(const Multiaddr::Component& c) {
    if (c.code == proto_code::ip4 && c.value.size() == 4) {
        asio::ip::address_v4::bytes_type b;
        std::copy(c.value.begin(), c.value.end(), b.begin());
        return asio::ip::address_v4(b);
    }
    if (c.code == proto_code::ip6 && c.value.size() == 16) {
        asio::ip::address_v6::bytes_type b;
        std::copy(c.value.begin(), c.value.end(), b.begin());
        return asio::ip::address_v6(b);
    }
    return std::nullopt;
}

std::optional<std::uint16_t> tcp_port(const Multiaddr& addr) {
    const auto* port = addr.find(proto_code::tcp);
    if (!port || port->value.size() != 2) return std::nullopt;
    return static_cast<std::uint16_t>(port->value[0] << 8 | port->value[1]);
}

}  // namespace

std::optional<tcp::endpoint> tcp_endpoint(const Multiaddr& addr) {
    const auto& parts = addr.components();
    if (parts.size() < 2 || parts[1].code != proto_code::tcp) return std::nullopt;
    auto port = tcp_port(addr);
    auto ip = ip_of(parts[0]);
    if (!port || !ip) return std::nullopt;
    return tcp::endpoint(*ip, *port);
}

Multiaddr tcp_multiaddr(const tcp::endpoint& endpoint) {
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    Multiaddr out;
    if (address.is_v4()) {
        auto b = address.to_v4().to_bytes();
        out = std::move(out).with_component(proto_code::ip4, Bytes(b.begin(), b.end()));
    } else {
        auto b = address.to_v6().to_bytes();
        out = std::move(out).with_component(proto_code::ip6, Bytes(b.begin(), b.end()));
    }
    std::uint16_t port = endpoint.port();
    return std::move(out).with_component(
        proto_code::tcp,
        Bytes{static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port & 0xff)});
}

Multiaddr remote_multiaddr(const tcp::socket& socket) {
    boost::system::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    return ec ? Multiaddr{} : tcp_multiaddr(endpoint);
}

Multiaddr local_multiaddr(const tcp::socket& socket) {
    boost::system::error_code ec;
    auto endpoint = socket.local_endpoint(ec);
    return ec ? Multiaddr{} : tcp_multiaddr(endpoint);
}

bool is_tcp_dialable(const Multiaddr& addr) {
    const auto& parts = addr.components();
    if (parts.size() < 2 || parts[1].code != proto_code::tcp || !tcp_port(addr)) return false;
    auto code = parts[0].code;
    if (code != proto_code::ip4 && code != proto_code::ip6 && code != proto_code::dns &&
        code != proto_code::dns4 && code != proto_code::dns6)
        return false;
    return std::all_of(parts.begin() + 2, parts.end(),
                       [](const Multiaddr::Component& c) { return c.code == proto_code::p2p; });
}

net::awaitable<net::result<std::vector<tcp::endpoint>>> resolve_tcp(Multiaddr addr,
                                                                    net::Duration timeout) {
    if (auto ep = tcp_endpoint(addr)) co_return std::vector<tcp::endpoint>{*ep};
    const auto& parts = addr.components();
    auto port = tcp_port(addr);
    if (parts.size() < 2 || parts[1].code != proto_code::tcp || !port)
        co_return make_error_code(net::net_errc::unsupported_address);
    auto code = parts[0].code;
    if (code != proto_code::dns && code != proto_code::dns4 && code != proto_code::dns6)
        co_return make_error_code(net::net_errc::unsupported_address);
    std::string host(parts[0].value.begin(), parts[0].value.end());

    // getaddrinfo blocks, and Asio's async_resolve cannot be cancelled (its one resolver thread
    // finishes each lookup, in turn, however long a DNS server takes): a name whose server never
    // answers would outlast any deadline and hold up every other lookup behind it.
    using Lookup = net::result<std::vector<tcp::endpoint>>;
    std::vector<std::function<Lookup()>> calls;
    calls.emplace_back([host = std::move(host), service = std::to_string(*port), code]() -> Lookup {
        tcp::resolver resolver(net::blocking_pool().get_executor());
        net::error_code ec;
        // A /dns4 or /dns6 name asks for its own family only; /dns for the families this
        // machine has addresses in (AI_ADDRCONFIG, Asio's default).
        tcp::resolver::results_type results;
        if (code == proto_code::dns4)
            results = resolver.resolve(tcp::v4(), host, service, {}, ec);
        else if (code == proto_code::dns6)
            results = resolver.resolve(tcp::v6(), host, service, {}, ec);
        else
            results = resolver.resolve(host, service, ec);
        if (ec) return ec;
        std::vector<tcp::endpoint> out;
        for (const auto& entry : results) out.push_back(entry.endpoint());
        if (out.empty()) return make_error_code(net::net_errc::no_addresses);
        return out;
    });
    auto answers = co_await net::run_blocking(std::move(calls), net::Clock::now() + timeout);
    if (!answers.front()) {
        // No answer: either the deadline passed or our caller gave up (a dial cancelled, the host
        // stopping). Only the first is the name's fault, so only it is a timeout.
        const auto state = co_await net::asio::this_coro::cancellation_state;
        if (net::cancelled(state)) co_return make_error_code(net::asio::error::operation_aborted);
        co_return make_error_code(net::net_errc::timeout);
    }
    co_return std::move(*answers.front());
}

AddressScope address_scope(const Multiaddr& addr) {
    if (addr.components().empty()) return AddressScope::unusable;
    const auto& first = addr.components().front();
    if (first.code == proto_code::dns || first.code == proto_code::dns4 ||
        first.code == proto_code::dns6 || first.code == proto_code::dnsaddr)
        return AddressScope::internet;
    auto ip = ip_of(first);
    if (!ip || ip->is_unspecified() || ip->is_multicast()) return AddressScope::unusable;
    if (ip->is_loopback()) return AddressScope::loopback;
    return reaches_the_internet(*ip) ? AddressScope::internet : AddressScope::private_network;
}

std::vector<Multiaddr> addresses_worth_keeping(std::vector<Multiaddr> told,
                                               const Multiaddr& seen_at) {
    const auto from = address_scope(seen_at);
    if (from == AddressScope::unusable) return told;  // nothing to judge by
    std::erase_if(told, [from](const Multiaddr& a) {
        const auto scope = address_scope(a);
        return scope == AddressScope::unusable || scope < from;
    });
    return told;
}

bool is_public_address(const Multiaddr& addr) {
    if (addr.components().empty()) return false;
    const auto code = addr.components().front().code;
    if (code == proto_code::dns || code == proto_code::dns4 || code == proto_code::dns6 ||
        code == proto_code::dnsaddr)
        return true;
    auto endpoint = tcp_endpoint(addr);
    return endpoint && reaches_the_internet(endpoint->address());
}

}  // namespace keel
