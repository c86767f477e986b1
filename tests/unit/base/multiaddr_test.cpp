// Multiaddr text <-> binary. Pairs follow the multiformats/multiaddr spec and the go-multiaddr /
// cpp-multiformats test tables (with udp at its current code 273).
#include <gtest/gtest.h>

#include "keel/base/codec_errc.hpp"
#include "keel/base/hex.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel {
namespace {

Bytes hex(std::string_view h) {
    return *from_hex(h);
}

constexpr std::string_view peer_b58 = "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC";
constexpr std::string_view peer_hex =
    "221220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b";

struct Pair {
    std::string text;
    std::string hex;
};

TEST(Multiaddr, TextBinaryPairs) {
    const Pair pairs[] = {
        {"/ip4/127.0.0.1/tcp/4001", "047f000001060fa1"},
        {"/ip4/127.0.0.1/udp/1234", "047f000001910204d2"},
        {"/ip4/127.0.0.1/tcp/5000", "047f000001061388"},
        {"/ip4/127.0.0.1/udp/1234/ip4/127.0.0.1/tcp/4321", "047f000001910204d2047f0000010610e1"},
        {"/ip6/::1/tcp/1234",
         "2900000000000000000000000000000001"
         "0604d2"},
        {"/ip6/2001:8a0:7ac5:4201:3ac9:86ff:fe31:7095", "29200108a07ac542013ac986fffe317095"},
        {"/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb"},
        {"/dns/example.com", "350b6578616d706c652e636f6d"},
        {"/dns6/example.com", "370b6578616d706c652e636f6d"},
        {"/dnsaddr/bootstrap.libp2p.io", "3813626f6f7473747261702e6c69627032702e696f"},
        {"/p2p/" + std::string(peer_b58), "a503" + std::string(peer_hex)},
        {"/ip4/127.0.0.1/p2p/" + std::string(peer_b58), "047f000001a503" + std::string(peer_hex)},
        {"/ip4/1.2.3.4/udp/4001/quic-v1", "040102030491020fa1cd03"},
        {"/ip4/1.2.3.4/tcp/443/tls/ws", "04010203040601bbc003dd03"},
        {"/ip4/1.2.3.4/tcp/80/http", "0401020304060050e003"},
        {"/ip4/1.2.3.4/tcp/1/p2p-circuit", "0401020304060001a202"},
        {"/ip4/1.2.3.4/sctp/9",
         "0401020304840100"
         "09"},
        {"/ip4/1.2.3.4/dccp/9", "0401020304210009"},
        {"/ip4/0.0.0.0/tcp/0", "0400000000060000"},
        {"/ip4/255.255.255.255/tcp/65535", "04ffffffff06ffff"},
    };
    for (const auto& p : pairs) {
        std::string why;
        auto m = Multiaddr::parse(p.text, &why);
        ASSERT_TRUE(m) << p.text << ": " << why;
        EXPECT_EQ(to_hex(m->to_bytes()), p.hex) << p.text;
        EXPECT_EQ(m->byte_size(), p.hex.size() / 2) << p.text;
        EXPECT_EQ(m->to_string(), p.text);
        auto b = Multiaddr::from_bytes(hex(p.hex), &why);
        ASSERT_TRUE(b) << p.hex << ": " << why;
        EXPECT_EQ(b->to_string(), p.text);
        EXPECT_EQ(*b, *m);
    }
}

TEST(Multiaddr, CanonicalForms) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        // /ipfs is the old name of /p2p.
        {"/ipfs/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC",
         "/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"},
        // IPv6 is printed in RFC 5952 form.
        {"/ip6/0:0:0:0:0:0:0:1", "/ip6/::1"},
        {"/ip6/2001:DB8:0:0:0:0:0:1/tcp/1", "/ip6/2001:db8::1/tcp/1"},
        {"/ip6/::ffff:1.2.3.4", "/ip6/::ffff:1.2.3.4"},
        {"/ip4/1.2.3.4/tcp/4001/", "/ip4/1.2.3.4/tcp/4001"},
        {"/ip4/1.2.3.4/tcp/080", "/ip4/1.2.3.4/tcp/80"},
    };
    for (const auto& [in, out] : cases) {
        std::string why;
        auto m = Multiaddr::parse(in, &why);
        ASSERT_TRUE(m) << in << ": " << why;
        EXPECT_EQ(m->to_string(), out);
    }
}

TEST(Multiaddr, P2pAcceptsCidV1) {
    // The peer ID of the ED25519 vector in tests/data/peer-ids.json, in both text forms.
    auto a =
        Multiaddr::parse("/p2p/bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6");
    auto b = Multiaddr::parse("/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(a->to_string(), "/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
    // A CID with another codec is not a peer ID.
    EXPECT_FALSE(
        Multiaddr::parse("/p2p/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"));
}

TEST(Multiaddr, TextErrorsSayWhy) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"/foo/1", "unknown protocol 'foo'"},
        {"/ip4/1.2.3", "invalid ip4 address '1.2.3'"},
        {"/ip4/1.2.3.256", "invalid ip4 address '1.2.3.256'"},
        {"/ip4/1.2.3.4/tcp/70000", "tcp port out of range '70000'"},
        {"/ip4/1.2.3.4/tcp/99999999999999999999", "tcp port out of range '99999999999999999999'"},
        {"/ip4/1.2.3.4/tcp/-1", "invalid tcp port '-1'"},
        {"/ip4/1.2.3.4/tcp/", "missing value for tcp"},
        {"/ip4/1.2.3.4/udp/x", "invalid udp port 'x'"},
        {"/ip4/1.2.3.4/tcp", "missing value for tcp"},
        {"/ip6/1::2::3", "invalid ip6 address '1::2::3'"},
        {"/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234",
         "unsupported protocol 'onion3'"},
        {"/p2p/QmNotAPeerId0", "invalid p2p peer id 'QmNotAPeerId0'"},
        {"/dns4//tcp/1", "invalid dns4 name ''"},
        {"ip4/1.2.3.4", "multiaddr must start with '/'"},
        {"", "multiaddr must start with '/'"},
        {"/", "empty multiaddr"},
    };
    for (const auto& [text, message] : cases) {
        std::string why;
        EXPECT_FALSE(Multiaddr::parse(text, &why)) << text;
        EXPECT_EQ(why, message) << text;
    }
    EXPECT_EQ(Multiaddr::parse("/foo").error(), codec_errc::unknown_protocol);
    EXPECT_EQ(Multiaddr::parse("/ip4/x").error(), codec_errc::invalid_value);
}

TEST(Multiaddr, BinaryErrorsAndBounds) {
    std::string why;
    EXPECT_EQ(Multiaddr::from_bytes(hex("047f0000"), &why).error(), codec_errc::truncated);
    EXPECT_EQ(why, "ip4 value truncated");
    EXPECT_EQ(Multiaddr::from_bytes(hex("ff7f"), &why).error(), codec_errc::unknown_protocol);
    EXPECT_EQ(why, "unknown protocol code 16383");
    EXPECT_EQ(Multiaddr::from_bytes(hex("bd03"), &why).error(), codec_errc::unknown_protocol);
    EXPECT_EQ(why, "unsupported protocol 'onion3'");
    // Declared length past the value bound.
    EXPECT_EQ(Multiaddr::from_bytes(hex("35ff7f"), &why).error(), codec_errc::too_long);
    // Declared length past the end.
    EXPECT_EQ(Multiaddr::from_bytes(hex("3505616263"), &why).error(), codec_errc::truncated);
    // A p2p value that is not a multihash.
    EXPECT_EQ(Multiaddr::from_bytes(hex("a503031205ff"), &why).error(), codec_errc::invalid_value);
    // DNS names with '/' or control characters have no text form.
    EXPECT_EQ(Multiaddr::from_bytes(hex("3503612f62"), &why).error(), codec_errc::invalid_value);

    Bytes many;
    for (int i = 0; i < 33; ++i) many.push_back(0xdd), many.push_back(0x03);  // 33 x /ws
    EXPECT_EQ(Multiaddr::from_bytes(many, &why).error(), codec_errc::too_long);
    Bytes huge(Multiaddr::max_bytes + 1, 0);
    EXPECT_EQ(Multiaddr::from_bytes(huge).error(), codec_errc::too_long);
    std::string long_text;
    for (int i = 0; i < 33; ++i) long_text += "/ws";
    EXPECT_EQ(Multiaddr::parse(long_text).error(), codec_errc::too_long);
    // Found by fuzz_multiaddr_text: values of 128 bytes and more take a two-byte length prefix,
    // so seven 128-byte names and one of 112 are 1031 bytes in binary, not 1024.
    const std::string name128 = std::string(60, 'a') + "." + std::string(60, 'b') + ".cdefgh";
    const std::string name112 = std::string(60, 'a') + "." + std::string(51, 'b');
    std::string near_limit;
    for (int i = 0; i < 7; ++i) near_limit += "/dns/" + name128;
    EXPECT_EQ(Multiaddr::parse(near_limit + "/dns/" + name112).error(), codec_errc::too_long);
    auto fits = Multiaddr::parse(near_limit + "/dns/" + name112.substr(0, 105));
    ASSERT_TRUE(fits) << near_limit;
    EXPECT_EQ(fits->to_bytes().size(), Multiaddr::max_bytes);
    EXPECT_TRUE(Multiaddr::from_bytes({}).value().empty());
}

TEST(Multiaddr, ComponentOperations) {
    auto base = Multiaddr::parse("/ip4/10.0.0.1/tcp/4001").value();
    auto p2p = Multiaddr::parse("/p2p/" + std::string(peer_b58)).value();
    auto full = base.encapsulate(p2p);
    EXPECT_EQ(full.to_string(), "/ip4/10.0.0.1/tcp/4001/p2p/" + std::string(peer_b58));
    EXPECT_EQ(full.without(proto_code::p2p), base);
    EXPECT_EQ(base.with_component(proto_code::p2p, p2p.components()[0].value), full);
    auto moved = base;
    EXPECT_EQ(std::move(moved).with_component(proto_code::p2p, p2p.components()[0].value), full);

    const auto* tcp = full.find(proto_code::tcp);
    ASSERT_NE(tcp, nullptr);
    EXPECT_EQ(full.component_value_text(*tcp), "4001");
    EXPECT_EQ(full.component_value_text(*full.find(proto_code::ip4)), "10.0.0.1");
    EXPECT_EQ(full.component_value_text(*full.find(proto_code::p2p)), peer_b58);
    EXPECT_EQ(full.find(proto_code::udp), nullptr);
    EXPECT_FALSE(full.empty());
    EXPECT_TRUE(Multiaddr{}.empty());
    EXPECT_EQ(Multiaddr{}.to_string(), "");
    EXPECT_LT(base, full);
}

TEST(Multiaddr, ProtocolTable) {
    ASSERT_NE(protocol_by_name("ipfs"), nullptr);
    EXPECT_EQ(protocol_by_name("ipfs")->code, proto_code::p2p);
    EXPECT_EQ(protocol_by_code(proto_code::p2p)->name, "p2p");
    EXPECT_EQ(protocol_by_name("webtransport")->code, 465u);
    EXPECT_EQ(protocol_by_name("nope"), nullptr);
}

// The daemon's control socket: the path is the rest of the address (go form), or one URI-encoded
// segment (js-multiaddr 13); both give the same binary value, the path itself.
TEST(Multiaddr, UnixSocketPath) {
    auto go = Multiaddr::parse("/unix/tmp/keel p2pd/control.sock").value();
    EXPECT_EQ(go.to_string(), "/unix/tmp/keel p2pd/control.sock");
    ASSERT_EQ(go.components().size(), 1u);
    EXPECT_EQ(go.component_value_text(go.components()[0]), "/tmp/keel p2pd/control.sock");
    auto js = Multiaddr::parse("/unix/%2Ftmp%2Fkeel%20p2pd%2Fcontrol.sock").value();
    EXPECT_EQ(js, go);
    Bytes expected{0x90, 0x03, 27};
    std::string path = "/tmp/keel p2pd/control.sock";
    expected.insert(expected.end(), path.begin(), path.end());
    EXPECT_EQ(go.to_bytes(), expected);
    EXPECT_EQ(Multiaddr::from_bytes(expected).value(), go);

    std::string why;
    EXPECT_FALSE(Multiaddr::parse("/unix", &why));
    EXPECT_FALSE(Multiaddr::parse("/unix/%2", &why));
    EXPECT_EQ(why, "invalid unix path escape");
    EXPECT_FALSE(Multiaddr::parse("/unix/%zz", &why));
    EXPECT_FALSE(Multiaddr::from_bytes(Bytes{0x90, 0x03, 0}));          // empty path
    EXPECT_FALSE(Multiaddr::from_bytes(Bytes{0x90, 0x03, 2, '/', 0}));  // NUL inside
}

}  // namespace
}  // namespace keel
