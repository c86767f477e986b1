// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from real messages:
// Keel's own encoders (identify, Kademlia, /keel/health, p2pd requests, multiaddrs, keys, a whole
// Noise handshake with the fixture's keys), the spec vectors in tests/data, and signatures made
// with OpenSSL for each key type. Run from the asan build after changing a format:
//   build/asan/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
// Each seed is small (at most 4 KiB) and named after what it is.
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <keel/proto/health.pb.h>
#include <keel/proto/keys.pb.h>
#include <keel/proto/p2pd.pb.h>
#include <keel/proto/relay.pb.h>
#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "keel/base/cid.hpp"
#include "keel/base/hex.hpp"
#include "keel/base/multibase.hpp"
#include "keel/base/varint.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/host/circuit_address.hpp"
#include "keel/kad/kad_message.hpp"
#include "keel/kad/time_received.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/yamux_frame.hpp"
#include "keel/protocols/identify.hpp"
#include "keel/relay/relay_messages.hpp"
#include "noise_fixture.hpp"

using namespace keel;
namespace fs = std::filesystem;

namespace {

fs::path out_root;

void seed(const std::string& target, const std::string& name, BytesView bytes) {
    if (bytes.size() > 4096) {
        std::cerr << "seed too large: " << target << "/" << name << "\n";
        std::exit(1);
    }
    auto dir = out_root / target;
    fs::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
}
void seed(const std::string& target, const std::string& name, std::string_view text) {
    seed(target, name, as_bytes(text));
}
using fuzz::cat;
using fuzz::chunk;
using fuzz::one;
std::string str(BytesView b) {
    return std::string(as_chars(b));
}
Bytes chunk(std::string_view s) {
    return chunk(as_bytes(s));
}
Bytes lp(BytesView b) {
    return net::length_prefixed(b);
}
Bytes lp(std::string_view s) {
    return lp(as_bytes(s));
}
Bytes proto(const google::protobuf::MessageLite& m) {
    return to_bytes(m.SerializeAsString());
}

PeerId peer(std::uint8_t seed) {
    return PeerId::from_public_key(
        Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{seed}).public_key());
}

const std::vector<std::string> addr_texts = {
    "/ip4/127.0.0.1/tcp/4001",
    "/ip6/::1/tcp/4001",
    "/ip4/192.168.1.7/udp/4001/quic-v1",
    "/dns4/bootstrap.libp2p.io/tcp/443/wss",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
    "/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
    "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/p2p-circuit",
    "/dns6/example.com/tcp/4001/ws",
    "/unix/tmp%2Fkeel.sock",
    "/ip4/1.2.3.4/udp/4001/quic-v1/webtransport",
};

std::vector<Multiaddr> addrs() {
    std::vector<Multiaddr> out;
    for (const auto& t : addr_texts)
        if (auto a = Multiaddr::parse(t)) out.push_back(*a);
    return out;
}

// Signs `message` with a protobuf PrivateKey of another type (rsa, secp256k1, ecdsa), as the
// libp2p implementations do: PKCS#1 v1.5 / DER ECDSA, over SHA-256.
Bytes openssl_sign(const std::string& type, BytesView private_key_pb, BytesView message) {
    pb::PrivateKey key;
    if (!key.ParseFromArray(private_key_pb.data(), static_cast<int>(private_key_pb.size())))
        return {};
    const auto* p = reinterpret_cast<const unsigned char*>(key.data().data());
    EVP_PKEY* pkey = nullptr;
    if (type == "rsa") {
        pkey = d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(key.data().size()));
    } else if (type == "ECDSA") {
        pkey = d2i_PrivateKey(EVP_PKEY_EC, nullptr, &p, static_cast<long>(key.data().size()));
        if (!pkey) {
            p = reinterpret_cast<const unsigned char*>(key.data().data());
            pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(key.data().size()));
        }
    } else if (type == "secp256k1") {
        // Raw 32-byte scalar: wrap it in a minimal SEC1 ECPrivateKey for secp256k1.
        Bytes der = {0x30, 0x2e, 0x02, 0x01, 0x01, 0x04, 0x20};
        der.insert(der.end(), key.data().begin(), key.data().end());
        Bytes oid = {0xa0, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};
        der.insert(der.end(), oid.begin(), oid.end());
        const unsigned char* d = der.data();
        pkey = d2i_PrivateKey(EVP_PKEY_EC, nullptr, &d, static_cast<long>(der.size()));
    }
    if (!pkey) return {};
    Bytes sig(1024);
    std::size_t sig_len = sig.size();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
              EVP_DigestSign(ctx, sig.data(), &sig_len, message.data(), message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    if (!ok) return {};
    sig.resize(sig_len);
    return sig;
}

// A whole handshake's worth of Noise: what make_corpus needs is only the plaintext payloads (the
// targets encrypt them), so these are the remote's payloads with different extensions.
void noise_seeds() {
    auto valid = fuzz::remote_payload({});
    auto yamux = fuzz::remote_payload({"/yamux/1.0.0"});
    auto both = fuzz::remote_payload({"/mplex/6.7.0", "/yamux/1.0.0"});
    auto none_common = fuzz::remote_payload({"/quic-mux/1"});
    seed("noise_payload", "no-extensions", valid);
    seed("noise_payload", "yamux", yamux);
    seed("noise_payload", "mplex-yamux", both);
    seed("noise_payload", "no-common-muxer", none_common);
    seed("noise_payload", "empty", Bytes{});
    auto ms = lp("/multistream/1.0.0\n");
    auto frames = cat({one(0), chunk(ms), one(0), chunk(lp("/ipfs/id/1.0.0\n"))});
    seed("noise_responder", "valid-no-muxer", cat({one(0), chunk(Bytes{}), chunk(valid), frames}));
    seed("noise_responder", "valid-yamux", cat({one(0), chunk(Bytes{}), chunk(yamux), frames}));
    seed("noise_responder", "raw-transport-frames",
         cat({one(0), chunk(Bytes{}), chunk(both), one(1), chunk(Bytes{0x00, 0x20, 1, 2, 3})}));
    seed("noise_responder", "raw-m1", cat({one(1), chunk(Bytes{0x00, 0x20}), chunk(Bytes(32, 9))}));
    seed("noise_responder", "raw-m3", cat({one(2), chunk(Bytes{}), chunk(Bytes{0x00, 0x40, 1})}));
    seed("noise_initiator", "valid", cat({one(0), chunk(valid), frames}));
    seed("noise_initiator", "valid-expected-peer", cat({one(4), chunk(yamux), frames}));
    seed("noise_initiator", "no-common-muxer", cat({one(4), chunk(none_common)}));
    seed("noise_initiator", "raw-m2", cat({one(1), chunk(Bytes{0x10, 0x00, 0xff})}));
}

void yamux_seeds() {
    using namespace net::yamux;
    auto header = [](FrameType t, std::uint16_t f, std::uint32_t id, std::uint32_t len) {
        auto h = FrameHeader{t, f, id, len}.encode();
        return Bytes(h.begin(), h.end());
    };
    seed("yamux_frame", "data-syn", header(FrameType::data, flag::syn, 1, 5));
    seed("yamux_frame", "window-update-ack",
         header(FrameType::window_update, flag::ack, 2, 262144));
    seed("yamux_frame", "ping", header(FrameType::ping, flag::syn, 0, 7));
    seed("yamux_frame", "go-away", header(FrameType::go_away, 0, 0, 1));
    seed("yamux_frame", "rst-fin", header(FrameType::data, flag::rst | flag::fin, 3, 0));
    // Session operations (fuzz_yamux_session.cpp): kind, id, then the kind's fields.
    auto data_op = [](std::uint8_t id, std::uint8_t flags, std::string_view payload) {
        return cat({one(1), one(id), one(flags), chunk(payload)});
    };
    auto ms = lp("/multistream/1.0.0\n");
    auto kad = lp("/ipfs/kad/1.0.0\n");
    Bytes open_and_talk = cat({data_op(1, flag::syn, str(cat({ms, kad}))),
                               data_op(1, flag::fin, "request"), cat({one(8), one(0)})});
    seed("yamux_session", "server-inbound-stream", cat({one(0), one(0xff), open_and_talk}));
    seed("yamux_session", "client-inbound-stream",
         cat({one(1), one(0x00), data_op(2, flag::syn, str(ms)), data_op(2, flag::rst, "")}));
    seed("yamux_session", "window-and-ping",
         cat({one(0), one(0xff), data_op(1, flag::syn, "x"), one(3), one(1), one(0),
              Bytes{0, 4, 0, 0}, one(4), one(0), one(1), Bytes{0, 0, 0, 42}, one(10), one(0)}));
    seed("yamux_session", "keel-opens-and-peer-acks",
         cat({one(1), one(0xff), one(7), one(0), chunk(str(ms)), one(3), one(1), one(flag::ack),
              Bytes{0, 0, 0, 0}, data_op(1, 0, "/ipfs/id/1.0.0\n")}));
    seed("yamux_session", "unread-stream-fills-window",
         cat({one(0), one(0x00), data_op(1, flag::syn, ""), one(2), one(1), one(0), Bytes{0x80, 0},
              one(2), one(1), one(0), Bytes{0x80, 0}, one(9), one(0), one(1)}));
    seed("yamux_session", "go-away",
         cat({one(0), one(0xff), data_op(1, flag::syn, "a"), one(5), one(0), one(0), one(11),
              one(0), one(0)}));
    seed("yamux_session", "bad-version",
         cat({one(0), one(0), one(0), one(0), chunk(Bytes(12, 7))}));
}

void protocol_seeds() {
    // multistream-select: the listener's and the dialer's view of real negotiations.
    auto header = lp("/multistream/1.0.0\n");
    seed("multistream", "listener-kad", cat({one(1), header, lp("/ipfs/kad/1.0.0\n")}));
    seed("multistream", "listener-na-then-ping",
         cat({one(1), header, lp("/ipfs/id/push/1.0.0\n"), lp("/ipfs/ping/1.0.0\n")}));
    seed("multistream", "listener-ls", cat({one(1), header, lp("ls\n")}));
    seed("multistream", "dialer-accepted", cat({one(0), header, lp("/ipfs/kad/1.0.0\n")}));
    seed("multistream", "dialer-na-then-ping",
         cat({one(0), header, lp("na\n"), lp("/ipfs/ping/1.0.0\n")}));

    // identify: Keel's own record, as a bootstrap sends it.
    protocols::IdentifyInfo info;
    info.protocol_version = "ipfs/0.1.0";
    info.agent_version = "keel/0.1.0";
    info.public_key = fuzz::remote_identity().public_key();
    auto as = addrs();
    info.listen_addrs = {as[0], as[1], as[2]};
    info.observed_addr = as[0];
    info.protocols = {"/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/ping/1.0.0",
                      "/ipfs/kad/1.0.0", "/keel/health/1.0.0"};
    auto full = protocols::encode_identify(info);
    seed("identify", "keel-bootstrap", full);
    protocols::IdentifyInfo addrs_only;
    addrs_only.listen_addrs = as;
    seed("identify", "many-addrs", protocols::encode_identify(addrs_only));
    protocols::IdentifyInfo protos_only;
    protos_only.protocols = info.protocols;
    seed("identify", "protocols-only", protocols::encode_identify(protos_only));
    seed("identify_push", "one-message", lp(full));
    seed("identify_push", "split-in-two",
         cat({lp(protocols::encode_identify(addrs_only)),
              lp(protocols::encode_identify(protos_only))}));
    seed("identify_push", "empty", Bytes{});

    // Kademlia: a FIND_NODE request and answer, GET_PROVIDERS, PUT_VALUE, ADD_PROVIDER, PING.
    kad::KadMessage find;
    find.type = kad::MessageType::find_node;
    find.key = peer(1).bytes();
    seed("kad_message", "find-node-request", kad::encode_message(find));
    find.closer_peers = {kad::KadPeer{peer(2), {as[0], as[1]}, true},
                         kad::KadPeer{peer(3), {as[3]}, false}};
    seed("kad_message", "find-node-response", kad::encode_message(find));
    kad::KadMessage providers;
    providers.type = kad::MessageType::get_providers;
    providers.key = Multihash::sha2_256(as_bytes("my-file")).encode();
    providers.provider_peers = {kad::KadPeer{peer(4), {as[0]}, false}};
    providers.closer_peers = {kad::KadPeer{peer(5), {as[2]}, false}};
    seed("kad_message", "get-providers-response", kad::encode_message(providers));
    providers.type = kad::MessageType::add_provider;
    providers.closer_peers.clear();
    seed("kad_message", "add-provider", kad::encode_message(providers));
    kad::KadMessage put;
    put.type = kad::MessageType::put_value;
    auto pk_key = cat({as_bytes("/pk/"), peer(1).bytes()});
    put.key = pk_key;
    auto pk_value =
        Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{1}).public_key().marshal();
    put.record =
        kad::Record{pk_key,          pk_value, kad::parse_rfc3339("2024-01-02T03:04:05.000000006Z"),
                    peer(1).bytes(), 3600,     0};
    seed("kad_message", "put-value-pk", kad::encode_message(put));
    kad::KadMessage ping;
    seed("kad_message", "ping", kad::encode_message(ping));

    // Record validators: a valid /pk/ record, a key for another peer, an unknown namespace.
    seed("record_validator", "pk-valid", cat({chunk(pk_key), chunk(pk_value)}));
    seed("record_validator", "pk-other-peer",
         cat({chunk(cat({as_bytes("/pk/"), peer(2).bytes()})), chunk(pk_value)}));
    seed("record_validator", "ipns-unknown",
         cat({chunk("/ipns/abc"), chunk("value"), chunk("v2")}));

    // /keel/health: a request with and without ping back, answers.
    pb::HealthRequest request;
    seed("health", "server-request", cat({one(1), lp(proto(request))}));
    request.set_ping_back(true);
    seed("health", "server-request-ping-back", cat({one(3), lp(proto(request))}));
    pb::HealthResponse response;
    response.set_connected_peers(12);
    response.set_routing_table_size(40);
    response.set_provider_records(3);
    response.set_uptime_seconds(3600);
    response.set_agent_version("keel/0.1.0");
    response.set_dht_server(true);
    seed("health", "client-response", cat({one(0), lp(proto(response))}));
    response.set_ping_back_ok(true);
    response.set_ping_back_ms(1.25);
    seed("health", "client-response-ping-back", cat({one(2), lp(proto(response))}));

    // Circuit Relay v2: HOP RESERVE and CONNECT, STOP CONNECT and STATUS, a voucher, a circuit
    // address (relay/relay_messages.hpp, host/circuit_address.hpp).
    pb::HopMessage reserve;
    reserve.set_type(pb::HopMessage::RESERVE);
    seed("relay", "hop-reserve", cat({one(0), lp(proto(reserve))}));
    pb::HopMessage hop_connect;
    hop_connect.set_type(pb::HopMessage::CONNECT);
    hop_connect.mutable_peer()->set_id(std::string(as_chars(peer(2).bytes())));
    seed("relay", "hop-connect", cat({one(0), lp(proto(hop_connect))}));
    pb::HopMessage reserved;
    reserved.set_type(pb::HopMessage::STATUS);
    reserved.set_status(pb::OK);
    reserved.mutable_reservation()->set_expire(1'800'000'000);
    reserved.mutable_reservation()->add_addrs(
        std::string(as_chars(Multiaddr::parse("/ip4/203.0.113.1/tcp/4001")->to_bytes())));
    reserved.mutable_limit()->set_duration(120);
    reserved.mutable_limit()->set_data(131072);
    seed("relay", "hop-status-reserved", cat({one(0), lp(proto(reserved))}));
    pb::StopMessage stop;
    stop.set_type(pb::StopMessage::CONNECT);
    stop.mutable_peer()->set_id(std::string(as_chars(peer(1).bytes())));
    stop.mutable_limit()->set_duration(120);
    seed("relay", "stop-connect", cat({one(1), lp(proto(stop))}));
    auto relay_key = Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{9});
    seed("relay", "voucher",
         cat({one(2),
              relay::reservation_voucher(
                  relay_key, PeerId::from_public_key(relay_key.public_key()), peer(1),
                  std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)))}));
    seed("relay", "circuit-address",
         cat({one(3),
              circuit_to(*Multiaddr::parse("/ip4/203.0.113.1/tcp/4001/p2p/" + peer(3).to_base58()),
                         peer(1))
                  .to_bytes()}));

    // p2pd control requests, as @libp2p/daemon-client sends them.
    namespace pd = pb::p2pd;
    pd::Request identify;
    identify.set_type(pd::Request::IDENTIFY);
    seed("p2pd_control", "identify", lp(proto(identify)));
    pd::Request connect;
    connect.set_type(pd::Request::CONNECT);
    connect.mutable_connect()->set_peer(str(peer(2).bytes()));
    connect.mutable_connect()->add_addrs(str(as[0].to_bytes()));
    connect.mutable_connect()->set_timeout(10);
    seed("p2pd_control", "connect", lp(proto(connect)));
    pd::Request open;
    open.set_type(pd::Request::STREAM_OPEN);
    open.mutable_streamopen()->set_peer(str(peer(2).bytes()));
    open.mutable_streamopen()->add_proto("/echo/1.0.0");
    seed("p2pd_control", "stream-open", lp(proto(open)));
    pd::Request handler;
    handler.set_type(pd::Request::STREAM_HANDLER);
    handler.mutable_streamhandler()->set_addr(str(as[8 < as.size() ? 8 : 0].to_bytes()));
    handler.mutable_streamhandler()->add_proto("/echo/1.0.0");
    seed("p2pd_control", "stream-handler", lp(proto(handler)));
    pd::Request dht;
    dht.set_type(pd::Request::DHT);
    dht.mutable_dht()->set_type(pd::DHTRequest::FIND_PROVIDERS);
    Cid cid{1, Cid::raw, Multihash::sha2_256(as_bytes("hello"))};
    dht.mutable_dht()->set_cid(str(cid.to_bytes()));
    dht.mutable_dht()->set_count(5);
    seed("p2pd_control", "dht-find-providers", lp(proto(dht)));
    pd::Request put_value;
    put_value.set_type(pd::Request::DHT);
    put_value.mutable_dht()->set_type(pd::DHTRequest::PUT_VALUE);
    put_value.mutable_dht()->set_key(str(pk_key));
    put_value.mutable_dht()->set_value(str(pk_value));
    seed("p2pd_control", "dht-put-value", lp(proto(put_value)));
    pd::Request store;
    store.set_type(pd::Request::PEERSTORE);
    store.mutable_peerstore()->set_type(pd::PeerstoreRequest::GET_PROTOCOLS);
    store.mutable_peerstore()->set_id(str(peer(3).bytes()));
    seed("p2pd_control", "peerstore-and-list-peers", cat({lp(proto(store)), lp(proto(identify))}));
}

void codec_seeds() {
    for (std::uint64_t v :
         {0ull, 1ull, 127ull, 128ull, 300ull, 16384ull, 4294967296ull, (1ull << 63) - 1}) {
        Bytes b;
        append_uvarint(b, v);
        seed("varint", "value-" + std::to_string(v), b);
    }
    seed("varint", "not-minimal", Bytes{0x80, 0x00});
    seed("varint", "too-long", Bytes(10, 0xff));
    seed("framing", "multistream-header", cat({one(3), one(0), lp("/multistream/1.0.0\n")}));
    seed("framing", "two-messages", cat({one(3), one(0), lp("na\n"), lp("/ipfs/kad/1.0.0\n")}));
    seed("framing", "over-limit", cat({one(1), one(0), lp("seventeen bytes!!")}));
    seed("framing", "varints", cat({one(0), one(1), Bytes{0x80, 0x01, 0x05, 0xff, 0x7f}}));

    auto as = addrs();
    for (std::size_t i = 0; i < as.size(); ++i) {
        seed("multiaddr_bytes", "addr-" + std::to_string(i), as[i].to_bytes());
        seed("multiaddr_text", "addr-" + std::to_string(i), as[i].to_string());
    }

    auto vectors = nlohmann::json::parse(std::ifstream(KEEL_TEST_DATA "/peer-ids.json"));
    Bytes message = to_bytes("libp2p-record-signature");
    for (const auto& v : vectors.at("vectors")) {
        std::string type = v.at("key_type").get<std::string>();
        auto pub = from_hex(v.at("public_key_protobuf_hex").get<std::string>()).value();
        auto priv = from_hex(v.at("private_key_protobuf_hex").get<std::string>()).value();
        Bytes sig;
        if (type == "ED25519") {
            auto pair = Ed25519KeyPair::unmarshal_private(priv);
            if (pair) sig = pair->sign(message);
            seed("private_key", "vector-ed25519", priv);
            seed("identity_file", "vector-ed25519", priv);
        } else {
            sig = openssl_sign(type, priv, message);
            if (sig.empty()) std::cerr << "warning: no OpenSSL signature for " << type << "\n";
        }
        seed("public_key", "vector-" + type, cat({chunk(pub), chunk(message), sig}));
        auto key = PublicKey::unmarshal(pub);
        if (key) {
            seed("signature", "vector-" + type,
                 cat({one(static_cast<std::uint8_t>(key->type)), chunk(message), sig}));
        }
        auto b58 = v.value("peer_id_base58", "");
        if (!b58.empty()) {
            seed("peer_id", "base58-" + type, cat({one(1), as_bytes(b58)}));
            seed("peer_id", "cid-" + type,
                 cat({one(1), as_bytes(v.value("peer_id_cid_base32", ""))}));
            seed("peer_id", "multihash-" + type,
                 cat({one(0), from_hex(v.value("peer_id_multihash_hex", "")).value()}));
            seed("multibase", "peer-id-" + type, "z" + b58);
            seed("multihash", "peer-id-" + type,
                 from_hex(v.value("peer_id_multihash_hex", "")).value());
        }
    }
    seed("signature", "ours", cat({one(8), chunk(message), one(1)}));
    auto ours = Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{3});
    seed("private_key", "keel-marshal", ours.marshal_private());
    seed("identity_file", "keel-marshal", ours.marshal_private());
    pb::PrivateKey seed_only;
    seed_only.set_type(pb::Ed25519);
    seed_only.set_data(std::string(32, '\x05'));
    seed("private_key", "seed-only", proto(seed_only));
    seed("identity_file", "seed-only", proto(seed_only));
    seed("identity_file", "empty", Bytes{});

    Cid v1{1, Cid::raw, Multihash::sha2_256(as_bytes("hello"))};
    Cid key{1, Cid::libp2p_key, Multihash::identity(ours.public_key().marshal())};
    Cid v0{0, Cid::dag_pb, Multihash::sha2_256(as_bytes("dag"))};
    for (const auto& [name, c] : {std::pair{"v1-raw", v1}, {"v1-libp2p-key", key}, {"v0", v0}}) {
        seed("cid", std::string("bytes-") + name, cat({one(0), c.to_bytes()}));
        seed("cid", std::string("text-") + name, cat({one(1), as_bytes(c.to_string())}));
        seed("multibase", std::string("cid-") + name,
             c.version == 1 ? c.to_string() : "z" + c.to_string());
    }
    seed("multibase", "base36-key", multibase_encode(Multibase::base36, key.to_bytes()));
    seed("multihash", "sha2-256", Multihash::sha2_256(as_bytes("x")).encode());
    seed("multihash", "identity", Multihash::identity(as_bytes("abc")).encode());

    // dnsaddr TXT records, as bootstrap.libp2p.io answers them.
    auto target = peer(42);
    auto txt = [&](std::initializer_list<std::string> records) {
        Bytes out;
        for (const auto& r : records) fuzz::put_chunk(out, as_bytes(r));
        return out;
    };
    seed("dnsaddr", "bootstrap",
         cat({one(1),
              txt({"dnsaddr=/ip4/147.75.83.83/tcp/4001/p2p/" + target.to_base58(),
                   "dnsaddr=/ip6/2604:1380:2000:7a00::1/udp/4001/quic-v1/p2p/" + target.to_base58(),
                   "dnsaddr=/ip4/1.2.3.4/tcp/4001/p2p/" + peer(1).to_base58()})}));
    seed("dnsaddr", "nested-and-junk",
         cat({one(0),
              txt({"dnsaddr=/dnsaddr/sjc-1.bootstrap.libp2p.io", "v=spf1 -all", "dnsaddr="})}));

    for (const char* d : {"10s", "250ms", "1.5m", "1h", "0", "7d", "0.001s"})
        seed("duration", d, std::string_view(d));

    std::ifstream example(KEEL_SOURCE_DIR "/docs/keel.example.toml");
    // Every key of the example, its comments left out (a seed stays under 4 KiB).
    std::string toml;
    for (std::string line; std::getline(example, line);) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        if (!line.empty()) toml += line + "\n";
    }
    seed("config", "keel-example", cat({one(0), as_bytes(toml)}));
    seed("config", "bootstrap-limits",
         cat({one(1),
              as_bytes("[node]\nlisten = [\"/ip4/0.0.0.0/tcp/4001\"]\ndht_server = true\n"
                       "[limits]\nmax_connections = 10000\nmax_buffered_bytes = 1024\n"
                       "[connect]\ndial_timeout = \"5s\"\n[health]\nbackoff_jitter = 0.5\n")}));
    seed("config", "bad-type", cat({one(0), as_bytes("[dht]\nk = \"twenty\"\n")}));

    // HTTP requests as the web UI and curl send them.
    seed("http_api", "get-node", "GET /api/v1/node HTTP/1.1\r\nHost: 127.0.0.1:5080\r\n\r\n");
    seed("http_api", "get-peer",
         "GET /api/v1/peers/12D3KooWabc HTTP/1.1\r\nHost: localhost\r\n\r\n");
    seed("http_api", "post-retry",
         "POST /api/v1/bootstraps/2/retry HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: "
         "http://127.0.0.1:5080\r\n"
         "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    seed("http_api", "post-provide-chunked",
         "POST /api/v1/dht/provide HTTP/1.1\r\nHost: [::1]:5080\r\nTransfer-Encoding: "
         "chunked\r\n\r\n"
         "5\r\n{\"k\":\r\n3\r\n\"x\"\r\n1\r\n}\r\n0\r\n\r\n");
    seed("http_api", "rebinding-host",
         "GET /api/v1/node HTTP/1.1\r\nHost: attacker.example\r\n\r\n");
    seed("http_api", "static-and-pipelined",
         "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /assets/app.js HTTP/1.1\r\nHost: "
         "127.0.0.1\r\n\r\n"
         "GET /../secret HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    seed("http_api", "delete",
         "DELETE /api/v1/bootstraps/0 HTTP/1.1\r\nHost: localhost:5080\r\n\r\n");
    for (const char* p : {"/", "/index.html", "/assets/app.js", "/../secret.key",
                          "/%2e%2e/secret.key", "/link.key", "/assets//app.js"})
        seed("http_static",
             std::string("path") + std::to_string(std::string_view(p).size()) +
                 (p[1] == 0 ? "-root" : ""),
             cat({one(0), as_bytes(p)}));
    for (const char* h : {"127.0.0.1:5080", "localhost", "[::1]:5080", "attacker.example", "127.1"})
        seed("http_static", std::string("host-") + h, cat({one(1), as_bytes(h)}));

    // The store: patches over the template database (fuzz_store.cpp): a header byte, a page in
    // the middle, a whole zeroed run.
    seed("store", "patch-header", cat({one(1), Bytes{0, 18}, chunk(Bytes{9})}));
    seed("store", "patch-page-2", cat({one(1), Bytes{0x10, 0x08}, chunk(Bytes(64, 0xff))}));
    seed("store", "patch-schema", cat({one(1), Bytes{0x0f, 0x80}, chunk(Bytes(128, 0))}));
    seed("store", "not-a-database", cat({one(0), as_bytes("SQLite format 3\0garbage")}));
    seed("store", "untouched", Bytes{1});
}

}  // namespace

int main(int argc, char** argv) {
    out_root = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    codec_seeds();
    protocol_seeds();
    noise_seeds();
    yamux_seeds();
    std::cout << "seeds written under " << out_root << "\n";
}
