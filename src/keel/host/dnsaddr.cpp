#include "keel/host/dnsaddr.hpp"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <boost/asio/error.hpp>
#include <cstring>
#include <functional>
#include <mutex>

#include "keel/net/blocking_calls.hpp"
#include "keel/net/log.hpp"
#include "keel/net/net_errc.hpp"

namespace keel {

namespace asio = net::asio;
using net::error_code;

namespace {

class DnsaddrCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "keel.dnsaddr"; }
    std::string message(int ev) const override {
        switch (static_cast<dnsaddr_errc>(ev)) {
            case dnsaddr_errc::no_records:
                return "no TXT records";
            case dnsaddr_errc::too_deep:
                return "dnsaddr recursion limit reached";
            case dnsaddr_errc::bad_name:
                return "invalid dnsaddr host name";
        }
        return "unknown keel.dnsaddr error";
    }
};

// A DNS name as res_nquery takes it: dot-separated labels of 1..63 bytes, 253 in all.
bool plausible_dns_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return false;
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (c <= 0x20 || c >= 0x7f || c == '\\' || ++label > 63) return false;
    }
    return label > 0;
}

std::mutex nameserver_mutex;
std::optional<asio::ip::udp::endpoint> nameserver_override;

using TxtResult = net::result<std::vector<std::string>>;

// Queries the TXT records of every name in parallel off this thread; waits until all have
// answered or `deadline` passed. A lookup still running then answers net_errc::timeout.
net::awaitable<std::vector<TxtResult>> query_txt_all(std::vector<std::string> names,
                                                     net::Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<net::Duration>(deadline - net::Clock::now());
    left = std::max(left, net::Duration{1});
    std::vector<std::function<TxtResult()>> calls;
    for (auto& name : names)
        calls.emplace_back([name = std::move(name), left] { return query_txt(name, left); });
    auto answers = co_await net::run_blocking(std::move(calls), deadline);
    std::vector<TxtResult> out;
    for (auto& answer : answers) {
        if (answer)
            out.push_back(std::move(*answer));
        else
            out.push_back(make_error_code(net::net_errc::timeout));
    }
    co_return out;
}

error_code resolver_error(int h_errno_value) {
    switch (h_errno_value) {
        case HOST_NOT_FOUND:
            return asio::error::host_not_found;
        case TRY_AGAIN:
            return asio::error::host_not_found_try_again;
        case NO_DATA:
            return asio::error::no_data;
        default:
            return asio::error::no_recovery;
    }
}

}  // namespace

const boost::system::error_category& dnsaddr_category() noexcept {
    static const DnsaddrCategory category;
    return category;
}

bool is_dnsaddr(const Multiaddr& addr) {
    return !addr.empty() && addr.components().front().code == proto_code::dnsaddr;
}

std::optional<PeerId> last_peer_id(const Multiaddr& addr) {
    const auto& parts = addr.components();
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->code != proto_code::p2p) continue;
        auto id = PeerId::from_bytes(it->value);
        if (!id) return std::nullopt;
        return *id;
    }
    return std::nullopt;
}

std::optional<std::string> dnsaddr_query_name(const Multiaddr& addr) {
    if (!is_dnsaddr(addr)) return std::nullopt;
    const auto& value = addr.components().front().value;
    std::string host(value.begin(), value.end());
    std::string name = "_dnsaddr." + host;
    if (!plausible_dns_name(name)) return std::nullopt;
    return name;
}

DnsaddrRecords parse_dnsaddr_txt(const std::vector<std::string>& txt,
                                 const std::optional<PeerId>& peer) {
    constexpr std::string_view prefix = "dnsaddr=";
    DnsaddrRecords out;
    for (const auto& entry : txt) {
        std::string_view text(entry);
        if (!text.starts_with(prefix)) {
            ++out.malformed;
            continue;
        }
        auto addr = Multiaddr::parse(text.substr(prefix.size()));
        if (!addr || addr->empty()) {
            ++out.malformed;
            continue;
        }
        const bool has_p2p = addr->find(proto_code::p2p) != nullptr;
        auto id = last_peer_id(*addr);
        if (has_p2p && !id) {  // a /p2p value that is no peer ID
            ++out.malformed;
            continue;
        }
        if (peer && !(is_dnsaddr(*addr) && !has_p2p) && id != peer) {
            ++out.other_peer;
            continue;
        }
        if (std::find(out.addrs.begin(), out.addrs.end(), *addr) != out.addrs.end()) continue;
        out.addrs.push_back(std::move(*addr));
    }
    return out;
}

void set_dnsaddr_nameserver(std::optional<asio::ip::udp::endpoint> nameserver) {
    std::lock_guard lock(nameserver_mutex);
    nameserver_override = nameserver;
}

net::result<std::vector<std::string>> query_txt(const std::string& name, net::Duration timeout) {
    struct __res_state state;
    std::memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) return make_error_code(asio::error::no_recovery);
    std::optional<asio::ip::udp::endpoint> nameserver;
    {
        std::lock_guard lock(nameserver_mutex);
        nameserver = nameserver_override;
    }
    if (nameserver) {
        if (!nameserver->address().is_v4()) {
            res_nclose(&state);
            return make_error_code(net::net_errc::unsupported_address);
        }
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(nameserver->port());
        sin.sin_addr.s_addr = htonl(nameserver->address().to_v4().to_uint());
        state.nsaddr_list[0] = sin;
        state.nscount = 1;
    }
    // res_nquery waits `retrans` seconds for the first try and doubles it on the retry; keep the
    // whole exchange near `timeout`. The caller's deadline is the real bound anyway.
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
    state.retrans = static_cast<int>(std::clamp<std::int64_t>(seconds / 3, 1, 5));
    state.retry = 2;
    std::vector<unsigned char> answer(NS_MAXMSG);
    int n = res_nquery(&state, name.c_str(), ns_c_in, ns_t_txt, answer.data(),
                       static_cast<int>(answer.size()));
    const int h_error = state.res_h_errno;
    res_nclose(&state);
    if (n < 0) {
        if (h_error == NO_DATA) return std::vector<std::string>{};  // the name has no TXT
        return resolver_error(h_error);
    }
    n = std::min(n, static_cast<int>(answer.size()));  // a longer answer was truncated

    ns_msg message;
    if (ns_initparse(answer.data(), n, &message) < 0)
        return make_error_code(net::net_errc::malformed_message);
    std::vector<std::string> out;
    const int count = ns_msg_count(message, ns_s_an);
    for (int i = 0; i < count; ++i) {
        ns_rr rr;
        if (ns_parserr(&message, ns_s_an, i, &rr) < 0) break;
        if (ns_rr_type(rr) != ns_t_txt || ns_rr_class(rr) != ns_c_in) continue;  // e.g. CNAME
        // RDATA: one or more <length><bytes> character-strings, concatenated into one record.
        const unsigned char* data = ns_rr_rdata(rr);
        const std::size_t size = ns_rr_rdlen(rr);
        std::string text;
        std::size_t pos = 0;
        bool ok = true;
        while (pos < size) {
            const std::size_t len = data[pos++];
            if (len > size - pos) {
                ok = false;
                break;
            }
            text.append(reinterpret_cast<const char*>(data + pos), len);
            pos += len;
        }
        if (ok) out.push_back(std::move(text));
    }
    return out;
}

net::awaitable<net::result<std::vector<Multiaddr>>> resolve_dnsaddr(Multiaddr addr,
                                                                    net::Duration timeout) {
    if (!is_dnsaddr(addr)) co_return std::vector<Multiaddr>{std::move(addr)};
    const auto deadline = net::Clock::now() + timeout;
    const auto peer = last_peer_id(addr);

    std::vector<Multiaddr> out;
    std::vector<Multiaddr> level{std::move(addr)};
    std::optional<error_code> first_error;
    std::size_t lookups = 0;
    bool cut_short = false;  // nested /dnsaddr entries left unresolved (depth or lookup cap)
    for (std::size_t depth = 0; !level.empty() && out.size() < dnsaddr_max_addrs; ++depth) {
        if (depth >= dnsaddr_max_depth || lookups >= dnsaddr_max_lookups) {
            cut_short = true;
            break;
        }
        std::vector<std::string> names;
        for (const auto& a : level) {
            if (lookups + names.size() >= dnsaddr_max_lookups) {
                cut_short = true;
                break;
            }
            auto name = dnsaddr_query_name(a);
            if (!name) {
                if (!first_error) first_error = make_error_code(dnsaddr_errc::bad_name);
                continue;
            }
            names.push_back(std::move(*name));
        }
        lookups += names.size();
        auto answers = co_await query_txt_all(names, deadline);
        const auto state = co_await asio::this_coro::cancellation_state;
        if (net::cancelled(state)) co_return make_error_code(asio::error::operation_aborted);

        std::vector<Multiaddr> next;
        for (std::size_t i = 0; i < answers.size(); ++i) {
            if (!answers[i]) {
                log().info("event=dnsaddr_lookup_failed name={} error=\"{}\"", names[i],
                           answers[i].error().message());
                if (!first_error) first_error = answers[i].error();
                continue;
            }
            auto records = parse_dnsaddr_txt(*answers[i], peer);
            log().debug("event=dnsaddr_lookup name={} txt={} addrs={} malformed={} other_peer={}",
                        names[i], answers[i]->size(), records.addrs.size(), records.malformed,
                        records.other_peer);
            for (auto& a : records.addrs) {
                auto& into = is_dnsaddr(a) ? next : out;
                if (std::find(into.begin(), into.end(), a) != into.end()) continue;
                if (&into == &out && out.size() >= dnsaddr_max_addrs) continue;
                into.push_back(std::move(a));
            }
        }
        level = std::move(next);
    }
    if (!out.empty()) co_return out;
    if (first_error) co_return *first_error;
    if (cut_short) co_return make_error_code(dnsaddr_errc::too_deep);
    co_return make_error_code(dnsaddr_errc::no_records);
}

}  // namespace keel
