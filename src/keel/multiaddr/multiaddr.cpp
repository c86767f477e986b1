#include "keel/multiaddr/multiaddr.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "keel/base/cid.hpp"
#include "keel/base/codec_errc.hpp"
#include "keel/base/multibase.hpp"
#include "keel/base/multihash.hpp"
#include "keel/base/varint.hpp"

namespace keel {
namespace {

using boost::system::result;
using Size = ProtocolInfo::Size;

// Text is bounded too, so any parsed address also fits the binary bounds' spirit and we never
// split megabytes of attacker-supplied text.
constexpr std::size_t max_text = 4 * Multiaddr::max_bytes;

boost::system::error_code fail(std::string* why, codec_errc e, std::string message) {
    if (why) *why = std::move(message);
    return e;
}

bool is_port(std::uint32_t code) {
    return code == proto_code::tcp || code == proto_code::udp || code == 33 /* dccp */ ||
           code == 132 /* sctp */;
}

bool is_dns(std::uint32_t code) {
    return code == proto_code::dns || code == proto_code::dns4 || code == proto_code::dns6 ||
           code == proto_code::dnsaddr;
}

// DNS names travel in text form inside the binary address; we only allow printable ASCII
// without '/' so every binary address we accept also has a text form that parses back.
bool valid_dns_name(std::string_view name) {
    if (name.empty() || name.size() > Multiaddr::max_value_size) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return c > 0x20 && c < 0x7f && c != '/'; });
}

// p2p values are multihashes; the text is a base58btc multihash or a CIDv1 (libp2p-key).
result<Bytes> parse_peer_id_text(std::string_view text) {
    Bytes bytes;
    if (!text.empty() && (text[0] == 'Q' || text[0] == '1')) {
        auto decoded = base58btc_decode(text);
        if (!decoded) return decoded.error();
        bytes = std::move(*decoded);
    } else {
        auto cid = Cid::parse(text);
        if (!cid) return cid.error();
        if (cid->codec != Cid::libp2p_key) return codec_errc::unsupported_cid;
        bytes = cid->hash.encode();
    }
    if (bytes.size() > Multiaddr::max_value_size) return codec_errc::too_long;
    if (auto mh = Multihash::decode(bytes); !mh) return mh.error();
    return bytes;
}

// A unix socket path is the rest of the text: "/unix/tmp/p2pd.sock" is the path
// "/tmp/p2pd.sock" (go-multiaddr's form). js-multiaddr 13 writes the path as one URI-encoded
// segment, "/unix/%2Ftmp%2Fp2pd.sock"; that is accepted too. The binary value is the path.
result<Bytes> parse_unix_path(std::string_view rest, std::string* why) {
    std::string path;
    if (rest.find('/') == std::string_view::npos && rest.find('%') != std::string_view::npos) {
        for (std::size_t i = 0; i < rest.size(); ++i) {
            if (rest[i] == '%' && i + 2 < rest.size()) {
                unsigned value = 0;
                auto [ptr, ec] =
                    std::from_chars(rest.data() + i + 1, rest.data() + i + 3, value, 16);
                if (ec != std::errc{} || ptr != rest.data() + i + 3)
                    return fail(why, codec_errc::invalid_value, "invalid unix path escape");
                path += static_cast<char>(value);
                i += 2;
            } else if (rest[i] == '%') {
                return fail(why, codec_errc::invalid_value, "invalid unix path escape");
            } else {
                path += rest[i];
            }
        }
    } else {
        path = "/" + std::string(rest);
    }
    if (path.empty() || path.size() > Multiaddr::max_value_size ||
        path.find('\0') != std::string::npos)
        return fail(why, codec_errc::invalid_value, "invalid unix path");
    return to_bytes(path);
}

result<Bytes> parse_value(const ProtocolInfo& p, std::string_view text, std::string* why) {
    const std::string name(p.name);
    const std::string quoted = " '" + std::string(text) + "'";
    if (p.code == proto_code::ip4 || p.code == proto_code::ip6) {
        const bool v4 = p.code == proto_code::ip4;
        Bytes out(v4 ? 4 : 16);
        const std::string z(text);  // inet_pton wants a NUL-terminated string
        if (inet_pton(v4 ? AF_INET : AF_INET6, z.c_str(), out.data()) != 1)
            return fail(why, codec_errc::invalid_value, "invalid " + name + " address" + quoted);
        return out;
    }
    if (is_port(p.code)) {
        unsigned port = 0;
        const auto* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, port);
        if (text.empty() || ptr != end || ec == std::errc::invalid_argument || text[0] == '+')
            return fail(why, codec_errc::invalid_value, "invalid " + name + " port" + quoted);
        if (ec == std::errc::result_out_of_range || port > 65535)
            return fail(why, codec_errc::invalid_value, name + " port out of range" + quoted);
        return Bytes{static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    }
    if (is_dns(p.code)) {
        if (!valid_dns_name(text))
            return fail(why, codec_errc::invalid_value, "invalid " + name + " name" + quoted);
        return to_bytes(text);
    }
    if (p.code == proto_code::p2p) {
        auto bytes = parse_peer_id_text(text);
        if (!bytes) return fail(why, codec_errc::invalid_value, "invalid p2p peer id" + quoted);
        return bytes;
    }
    return fail(why, codec_errc::unknown_protocol, "unsupported protocol '" + name + "'");
}

// Checks a binary value for a variable-length protocol (fixed-size values are always valid).
bool valid_binary_value(std::uint32_t code, BytesView value) {
    if (is_dns(code)) return valid_dns_name(as_chars(value));
    if (code == proto_code::p2p) return Multihash::decode(value).has_value();
    if (code == proto_code::unix)
        return !value.empty() && std::find(value.begin(), value.end(), 0) == value.end();
    return true;
}

// Whether parse() reads "/unix" + path back as `path`: it must start with '/', not end with one
// (parse() drops one trailing slash), and a single segment must not hold a '%' (parse() would
// take it for the percent-encoded form).
bool unix_path_plain(std::string_view path) {
    if (path.size() < 2 || !path.starts_with('/') || path.ends_with('/')) return false;
    auto rest = path.substr(1);
    return rest.find('/') != std::string_view::npos || rest.find('%') == std::string_view::npos;
}

std::string port_text(BytesView v) {
    return std::to_string(v[0] << 8 | v[1]);
}

}  // namespace

result<Multiaddr> Multiaddr::parse(std::string_view text, std::string* why) {
    if (text.size() > max_text) return fail(why, codec_errc::too_long, "multiaddr too long");
    if (text.empty() || text[0] != '/')
        return fail(why, codec_errc::invalid_value, "multiaddr must start with '/'");
    text.remove_prefix(1);
    if (text.ends_with('/')) text.remove_suffix(1);  // tolerate one trailing slash
    if (text.empty()) return fail(why, codec_errc::invalid_value, "empty multiaddr");

    // Splits off the next '/'-separated segment.
    auto next = [&text]() {
        const auto slash = text.find('/');
        std::string_view seg = text.substr(0, slash);
        text = slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
        return seg;
    };

    Multiaddr out;
    std::size_t total = 0;
    bool more = true;
    while (more) {
        const std::string_view name = next();
        more = !text.empty();
        const ProtocolInfo* p = protocol_by_name(name);
        if (!p)
            return fail(why, codec_errc::unknown_protocol,
                        "unknown protocol '" + std::string(name) + "'");
        if (!p->supported)
            return fail(why, codec_errc::unknown_protocol,
                        "unsupported protocol '" + std::string(name) + "'");
        Component c{p->code, {}};
        if (p->code == proto_code::unix) {
            if (!more) return fail(why, codec_errc::truncated, "missing value for unix");
            auto path = parse_unix_path(text, why);
            if (!path) return path.error();
            c.value = std::move(*path);
            text = {};
            more = false;
        } else if (p->size_kind != Size::none) {
            if (!more)
                return fail(why, codec_errc::truncated,
                            "missing value for " + std::string(p->name));
            auto value = parse_value(*p, next(), why);
            if (!value) return value.error();
            c.value = std::move(*value);
            more = !text.empty();
        }
        // Exactly what to_bytes() writes, so that no parsed address is too long in binary.
        total += uvarint_size(c.code) + c.value.size() +
                 (p->size_kind == Size::variable ? uvarint_size(c.value.size()) : 0);
        if (out.components_.size() == max_components || total > max_bytes)
            return fail(why, codec_errc::too_long, "multiaddr too long");
        out.components_.push_back(std::move(c));
    }
    return out;
}

result<Multiaddr> Multiaddr::from_bytes(BytesView bytes, std::string* why) {
    if (bytes.size() > max_bytes) return fail(why, codec_errc::too_long, "multiaddr too long");
    Multiaddr out;
    while (!bytes.empty()) {
        if (out.components_.size() == max_components)
            return fail(why, codec_errc::too_long, "too many multiaddr components");
        auto code = decode_uvarint(bytes);
        if (!code) {
            const bool truncated = code.error() == codec_errc::truncated;
            return fail(why, truncated ? codec_errc::truncated : codec_errc::invalid_value,
                        "invalid protocol code varint");
        }
        bytes = bytes.subspan(code->length);
        const ProtocolInfo* p = code->value > UINT32_MAX
                                    ? nullptr
                                    : protocol_by_code(static_cast<std::uint32_t>(code->value));
        if (!p)
            return fail(why, codec_errc::unknown_protocol,
                        "unknown protocol code " + std::to_string(code->value));
        if (!p->supported)
            return fail(why, codec_errc::unknown_protocol,
                        "unsupported protocol '" + std::string(p->name) + "'");

        std::size_t size = 0;
        if (p->size_kind == Size::fixed) {
            size = p->size_bits / 8;
        } else if (p->size_kind == Size::variable) {
            auto len = decode_uvarint(bytes);
            if (!len)
                return fail(why, codec_errc::truncated,
                            "invalid length for " + std::string(p->name));
            if (len->value > max_value_size)
                return fail(why, codec_errc::too_long, std::string(p->name) + " value too long");
            size = static_cast<std::size_t>(len->value);
            bytes = bytes.subspan(len->length);
        }
        if (bytes.size() < size)
            return fail(why, codec_errc::truncated, std::string(p->name) + " value truncated");
        Component c{p->code, Bytes(bytes.begin(), bytes.begin() + size)};
        bytes = bytes.subspan(size);
        if (!valid_binary_value(c.code, c.value))
            return fail(why, codec_errc::invalid_value,
                        "invalid " + std::string(p->name) + " value");
        // In text a unix path takes the rest of the address, so nothing can follow it (found by
        // fuzz_multiaddr_bytes: "/unix/a/tcp/1" would read back as one path).
        if (c.code == proto_code::unix && !bytes.empty())
            return fail(why, codec_errc::invalid_value, "unix must be the last component");
        out.components_.push_back(std::move(c));
    }
    return out;
}

std::string Multiaddr::to_string() const {
    std::string out;
    for (const auto& c : components_) {
        const ProtocolInfo* p = protocol_by_code(c.code);
        out += '/';
        out += p ? std::string(p->name) : std::to_string(c.code);
        if (p && p->size_kind == Size::none) continue;
        auto value = component_value_text(c);
        if (c.code == proto_code::unix && !unix_path_plain(value)) {
            // js-multiaddr's form, one percent-encoded segment, which parse() reads back to the
            // same path where the plain form would not (found by fuzz_multiaddr_text/_bytes).
            out += '/';
            static constexpr char hex[] = "0123456789ABCDEF";
            for (unsigned char ch : value) {
                out += '%';
                out += hex[ch >> 4];
                out += hex[ch & 0xf];
            }
            continue;
        }
        if (c.code != proto_code::unix || !value.starts_with('/')) out += '/';
        out += value;
    }
    return out;
}

Bytes Multiaddr::to_bytes() const {
    Bytes out;
    for (const auto& c : components_) {
        append_uvarint(out, c.code);
        const ProtocolInfo* p = protocol_by_code(c.code);
        if (p && p->size_kind == Size::variable) append_uvarint(out, c.value.size());
        out.insert(out.end(), c.value.begin(), c.value.end());
    }
    return out;
}

std::size_t Multiaddr::byte_size() const {
    std::size_t n = 0;
    for (const auto& c : components_) {
        n += uvarint_size(c.code) + c.value.size();
        const ProtocolInfo* p = protocol_by_code(c.code);
        if (p && p->size_kind == Size::variable) n += uvarint_size(c.value.size());
    }
    return n;
}

const Multiaddr::Component* Multiaddr::find(std::uint32_t code) const {
    for (const auto& c : components_)
        if (c.code == code) return &c;
    return nullptr;
}

Multiaddr Multiaddr::encapsulate(const Multiaddr& other) const {
    Multiaddr out = *this;
    out.components_.insert(out.components_.end(), other.components_.begin(),
                           other.components_.end());
    return out;
}

Multiaddr Multiaddr::with_component(std::uint32_t code, Bytes value) const& {
    Multiaddr out = *this;
    out.components_.push_back({code, std::move(value)});
    return out;
}

Multiaddr Multiaddr::with_component(std::uint32_t code, Bytes value) && {
    components_.push_back({code, std::move(value)});
    return std::move(*this);
}

Multiaddr Multiaddr::without(std::uint32_t code) const {
    Multiaddr out = *this;
    std::erase_if(out.components_, [code](const Component& c) { return c.code == code; });
    return out;
}

std::string Multiaddr::component_value_text(const Component& c) const {
    if (c.code == proto_code::ip4 || c.code == proto_code::ip6) {
        const bool v4 = c.code == proto_code::ip4;
        if (c.value.size() != (v4 ? 4u : 16u)) return {};
        char buf[INET6_ADDRSTRLEN] = {};
        // inet_ntop gives the RFC 5952 canonical form for IPv6 (glibc).
        if (!inet_ntop(v4 ? AF_INET : AF_INET6, c.value.data(), buf, sizeof buf)) return {};
        return buf;
    }
    if (is_port(c.code)) return c.value.size() == 2 ? port_text(c.value) : std::string{};
    if (is_dns(c.code)) return std::string(as_chars(c.value));
    if (c.code == proto_code::p2p) {
        // parse() reads base58btc only where it starts as sha2-256 ("Qm…") and identity ("1…")
        // peer IDs do; any other multihash is written as a CIDv1 (libp2p-key), which it reads
        // back (found by fuzz_multiaddr_bytes).
        auto text = base58btc_encode(c.value);
        if (text.starts_with('Q') || text.starts_with('1')) return text;
        if (auto mh = Multihash::decode(c.value)) return Cid{1, Cid::libp2p_key, *mh}.to_string();
        return text;
    }
    if (c.code == proto_code::unix) return std::string(as_chars(c.value));
    return {};
}

}  // namespace keel
