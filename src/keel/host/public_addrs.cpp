// Host::public_addrs: what a relay reservation or a peer record tells others to dial.
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>

#include "keel/host/host.hpp"
#include "keel/host/tcp_address.hpp"

namespace keel {
namespace {

namespace asio = net::asio;

// This machine's interface addresses of one family (the kernel's list, loopback included).
std::vector<asio::ip::address> interface_addresses(bool v6) {
    std::vector<asio::ip::address> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    for (auto* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        if (!v6 && i->ifa_addr->sa_family == AF_INET) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
            out.push_back(asio::ip::address_v4(ntohl(in->sin_addr.s_addr)));
        } else if (v6 && i->ifa_addr->sa_family == AF_INET6) {
            const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
            asio::ip::address_v6::bytes_type bytes;
            std::copy(std::begin(in6->sin6_addr.s6_addr), std::end(in6->sin6_addr.s6_addr),
                      bytes.begin());
            asio::ip::address_v6 a(bytes, in6->sin6_scope_id);
            if (!a.is_link_local()) out.push_back(a);  // needs a zone; no use to a remote peer
        }
    }
    freeifaddrs(list);
    return out;
}

}  // namespace

std::vector<Multiaddr> Host::public_addrs() const {
    if (!config_.announce_addrs.empty()) return config_.announce_addrs;
    const auto now = net::Clock::now();
    if (now < public_addrs_until_) return public_addrs_;
    std::vector<Multiaddr> out;
    for (const auto& addr : listen_addrs_) {
        auto text = addr.to_string();
        const bool v4 = text.starts_with("/ip4/0.0.0.0/");
        const bool v6 = text.starts_with("/ip6/::/");
        if (!v4 && !v6) {
            out.push_back(addr);
            continue;
        }
        auto rest = text.substr(text.find('/', 5));  // "/tcp/PORT…"
        for (const auto& ip : interface_addresses(v6))
            if (auto a = Multiaddr::parse((v6 ? "/ip6/" : "/ip4/") + ip.to_string() + rest))
                out.push_back(*a);
    }
    public_addrs_ = out;
    public_addrs_until_ = now + std::chrono::seconds(5);
    return out;
}

bool Host::has_public_address() const {
    const auto addrs = public_addrs();
    return std::any_of(addrs.begin(), addrs.end(),
                       [](const Multiaddr& a) { return is_public_address(a); });
}

}  // namespace keel
