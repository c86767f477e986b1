// Captures fuzz seeds from a live libp2p peer (go, rust or js; tests/fuzz/capture-seeds.sh starts
// them) with Keel's own code, recording what the remote sends at each layer, and writes each
// message in the input format of the fuzz target that reads it
// (tests/fuzz/corpus/<target>/<label>-<what>). Every seed is decoded again before it is written,
// with the decoder its target exercises; one that does not parse is reported and not written, one
// identical to a seed already there is skipped.
//
//   fuzz_capture_seeds --label go --addr /ip4/127.0.0.1/tcp/P/p2p/ID --out tests/fuzz/corpus
//   fuzz_capture_seeds --label go --listen 1 --out tests/fuzz/corpus
//
// Dialing (--addr), what the remote listener sends: the multistream answer to /noise, Noise
// message 2 and its decrypted handshake payload, the multistream answer to /yamux/1.0.0 when the
// muxer was not inlined, the Yamux frames of the whole session, the identify stream, and the
// answers to Kademlia FIND_NODE, PING and GET_PROVIDERS (after an ADD_PROVIDER of the same key).
// Listening (--listen 1: prints a JSON "listening" line, serves one connection): what a remote
// dialer sends: its multistream proposals, Noise messages 1 and 3 and the payload of 3, its
// Yamux frames and its first Kademlia request of each type (answered with empty answers).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include <keel/proto/noise.pb.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "fuzz_util.hpp"
#include "keel/base/varint.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/kad/kad_message.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/condition.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/multistream.hpp"
#include "keel/net/noise_identity.hpp"
#include "keel/net/noise_session.hpp"
#include "keel/net/tcp_stream.hpp"
#include "keel/net/yamux_frame.hpp"
#include "keel/net/yamux_session.hpp"
#include "keel/net/yamux_stream.hpp"
#include "keel/noise/handshake_state.hpp"
#include "keel/protocols/identify.hpp"
#include "noise_fixture.hpp"

using namespace keel;
using namespace keel::net;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr Duration step_timeout{5000};  // each network wait
constexpr std::size_t max_seed = 4096;

// A ByteStream that forwards to another and appends every byte it reads to `log`: what the remote
// sent, exactly as the layer above consumed it.
class RecordingStream final : public ByteStream {
  public:
    RecordingStream(std::unique_ptr<ByteStream> owned, std::shared_ptr<Bytes> log)
        : owned_(std::move(owned)), inner_(owned_.get()), log_(std::move(log)) {}
    RecordingStream(std::shared_ptr<ByteStream> shared, std::shared_ptr<Bytes> log)
        : shared_(std::move(shared)), inner_(shared_.get()), log_(std::move(log)) {}

    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override {
        auto n = co_await inner_->read_some(buffer);
        if (n) log_->insert(log_->end(), buffer.begin(), buffer.begin() + *n);
        co_return n;
    }
    awaitable<error_code> write_all(BytesView data) override {
        co_return co_await inner_->write_all(data);
    }
    awaitable<error_code> close_write() override { co_return co_await inner_->close_write(); }
    void reset() override { inner_->reset(); }
    asio::any_io_executor get_executor() override { return inner_->get_executor(); }
    std::size_t ready_to_read() const override { return inner_->ready_to_read(); }

  private:
    std::unique_ptr<ByteStream> owned_;
    std::shared_ptr<ByteStream> shared_;
    ByteStream* inner_;
    std::shared_ptr<Bytes> log_;
};

struct Options {
    std::string label;
    std::string addr;
    fs::path out;
    bool listen = false;
};

Options options;
int written = 0;
int refused = 0;

using fuzz::cat;
using fuzz::chunk;
using fuzz::one;

// The body of the first length-prefixed message of `framed` (nullopt if it is not one).
std::optional<Bytes> first_message(BytesView framed) {
    auto length = decode_uvarint(framed);
    if (!length || framed.size() - length->length < length->value) return std::nullopt;
    auto body = framed.subspan(length->length, static_cast<std::size_t>(length->value));
    return Bytes(body.begin(), body.end());
}

// Writes the seed when `parses` (the target's decoder accepted it) and it fits in 4 KiB.
void seed(const std::string& target, const std::string& what, BytesView bytes, bool parses) {
    std::string name = options.label + "-" + what;
    if (!parses || bytes.size() > max_seed) {
        std::cerr << "capture: not written: " << target << "/" << name << " ("
                  << (parses ? "larger than 4 KiB" : "does not parse") << ", " << bytes.size()
                  << " bytes)\n";
        ++refused;
        return;
    }
    auto dir = options.out / target;
    fs::create_directories(dir);
    // A seed with the same bytes as one already there (Keel's own, or another implementation's)
    // adds nothing.
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file() || entry.path().filename() == name ||
            entry.file_size() != bytes.size())
            continue;
        std::ifstream file(entry.path(), std::ios::binary);
        Bytes there(bytes.size());
        file.read(reinterpret_cast<char*>(there.data()),
                  static_cast<std::streamsize>(there.size()));
        if (std::equal(there.begin(), there.end(), bytes.begin())) {
            std::cout << "same as " << target << "/" << entry.path().filename().string()
                      << ", not written: " << name << "\n";
            return;
        }
    }
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    std::cout << "seed " << target << "/" << name << " " << bytes.size() << " bytes\n";
    ++written;
}

// The listener's multistream answer (for fuzz_multistream, Keel as the dialer: first byte 0).
void multistream_seed(const std::string& what, BytesView answer) {
    auto header = first_message(answer);
    bool parses = header && as_chars(*header) == std::string(multistream_header) + "\n";
    seed("multistream", what, cat({one(0), answer}), parses);
}

// The length prefix of a message, for fuzz_varint: only multi-byte ones (Keel's own seeds have
// the one-byte values).
void varint_seed(const std::string& what, BytesView framed) {
    auto length = decode_uvarint(framed);
    if (length && length->length > 1) seed("varint", what, framed.first(length->length), true);
}

// A length-prefixed message as the remote sent it: fuzz_framing (limit 64 KiB, messages) and
// its length alone for fuzz_varint.
void framing_seeds(const std::string& what, BytesView framed) {
    bool parses = first_message(framed).has_value();
    seed("framing", what, cat({one(4), one(0), framed}), parses);
    varint_seed(what + "-length", framed);
}

awaitable<error_code> connect_socket(asio::ip::tcp::socket& socket,
                                     asio::ip::tcp::endpoint endpoint) {
    auto [ec] = co_await socket.async_connect(endpoint, use_result);
    co_return ec;
}

awaitable<error_code> read_noise_message(ByteStream& stream, Bytes& framed) {
    std::array<std::uint8_t, 2> prefix{};
    if (auto ec = co_await read_exact(stream, prefix)) co_return ec;
    Bytes body(std::size_t{prefix[0]} << 8 | prefix[1]);
    if (auto ec = co_await read_exact(stream, body)) co_return ec;
    framed = cat({prefix, body});
    co_return error_code{};
}

struct HandshakeMessage {
    Bytes framed;   // as on the wire: 2-byte length, then the message
    Bytes payload;  // decrypted
};

// The remote's next Noise handshake message, read within the step deadline and decrypted by
// `hs`; nullopt (and a line on stderr) when it does not come or does not decrypt.
awaitable<std::optional<HandshakeMessage>> next_handshake_message(ByteStream& raw,
                                                                  noise::HandshakeState& hs,
                                                                  std::string what) {
    HandshakeMessage m;
    if (auto ec = co_await with_deadline(read_noise_message(raw, m.framed), step_timeout)) {
        std::cerr << "capture: Noise " << what << ": " << ec.message() << "\n";
        co_return std::nullopt;
    }
    auto payload = hs.read_message(BytesView(m.framed).subspan(2));
    if (!payload) {
        std::cerr << "capture: Noise " << what << " does not decrypt\n";
        co_return std::nullopt;
    }
    m.payload = std::move(*payload);
    co_return m;
}

// The transport phase after a finished handshake, every plaintext byte the remote sends recorded
// into `log`; nullptr when the handshake is not finished.
std::unique_ptr<ByteStream> recorded_transport(noise::HandshakeState& hs,
                                               std::unique_ptr<ByteStream> raw,
                                               std::shared_ptr<Bytes> log) {
    auto split = hs.split();
    if (!split) return nullptr;
    return std::make_unique<RecordingStream>(
        std::unique_ptr<ByteStream>(std::make_unique<NoiseStream>(
            std::move(raw), std::move(split->send), std::move(split->receive))),
        std::move(log));
}

// Whether a handshake payload offers Yamux inline (the stream_muxers extension).
bool offers_yamux(const pb::NoiseHandshakePayload& payload) {
    const auto& muxers = payload.extensions().stream_muxers();
    return std::find(muxers.begin(), muxers.end(), yamux_protocol_id) != muxers.end();
}

// Reads until the remote closes (or the deadline): what is left of a stream.
awaitable<error_code> drain(ByteStream& stream) {
    std::array<std::uint8_t, 4096> buffer{};
    for (;;) {
        auto n = co_await stream.read_some(buffer);
        if (!n) co_return error_code{};
    }
}

struct Exchange {
    Bytes answer;    // the multistream answer to our proposal
    Bytes response;  // the response as framed on the stream (empty when none was read)
};

// Opens a stream, negotiates `protocol`, sends `request` length-prefixed and reads one
// length-prefixed response (`want_response`) or waits for the remote to close.
awaitable<std::optional<Exchange>> request(std::shared_ptr<YamuxSession> session,
                                           std::string protocol, Bytes message,
                                           bool want_response) {
    auto opened = session->open_stream();
    if (!opened) co_return std::nullopt;
    auto log = std::make_shared<Bytes>();
    RecordingStream stream(std::shared_ptr<ByteStream>(*opened), log);
    const std::vector<std::string> protocols{protocol};
    auto chosen = co_await with_deadline(multistream_select(stream, protocols), step_timeout);
    if (!chosen) {
        std::cerr << "capture: " << protocol << ": " << chosen.error().message() << "\n";
        stream.reset();
        co_return std::nullopt;
    }
    Exchange out;
    out.answer = *log;
    log->clear();
    if (!message.empty()) {
        auto ec = co_await with_deadline(write_length_prefixed(stream, message), step_timeout);
        if (ec) co_return std::nullopt;
    }
    if (want_response) {
        auto response =
            co_await with_deadline(read_length_prefixed(stream, 64 * 1024), step_timeout);
        if (!response) {
            std::cerr << "capture: " << protocol << " response: " << response.error().message()
                      << "\n";
            stream.reset();
            co_return std::nullopt;
        }
        out.response = *log;
        co_await with_deadline(stream.close_write(), step_timeout);
    } else {
        co_await with_deadline(stream.close_write(), step_timeout);
        co_await with_deadline(drain(stream), Duration{2000});
        out.response = *log;
    }
    stream.reset();
    co_return out;
}

// Answers the remote's identify request on an inbound stream (so the remote keeps the
// connection as it would with any peer); every other protocol is refused.
awaitable<void> serve_inbound(std::shared_ptr<YamuxStream> s, protocols::IdentifyInfo ours) {
    const std::function<bool(std::string_view)> supported = [](std::string_view p) {
        return p == protocols::identify_protocol_id;
    };
    auto chosen = co_await with_deadline(multistream_handle(*s, supported), step_timeout);
    if (chosen) {
        co_await with_deadline(protocols::send_identify(*s, ours), step_timeout);
        co_await with_deadline(s->close_write(), step_timeout);
    } else {
        s->reset();
    }
}

std::string frame_name(const yamux::FrameHeader& h) {
    static const char* types[] = {"data", "window-update", "ping", "go-away"};
    std::string name = types[static_cast<int>(h.type) & 3];
    if (h.flags & yamux::flag::syn) name += "-syn";
    if (h.flags & yamux::flag::ack) name += "-ack";
    if (h.flags & yamux::flag::fin) name += "-fin";
    if (h.flags & yamux::flag::rst) name += "-rst";
    return name;
}

// The remote's Yamux frames (plaintext after Noise): with `frame_seeds`, each distinct kind of
// header for fuzz_yamux_frame; and the session for fuzz_yamux_session (Keel's role as in the
// capture, reading every stream; one "Keel opens a stream" operation per stream Keel opened,
// then each frame of the remote as a raw-bytes operation, as many as fit in 4 KiB).
void yamux_seeds(BytesView wire, bool keel_is_client, std::size_t streams_opened,
                 const std::string& prefix, bool frame_seeds) {
    std::vector<Bytes> frames;
    std::set<std::string> kinds;
    std::size_t pos = 0;
    while (wire.size() - pos >= yamux::header_size) {
        std::array<std::uint8_t, yamux::header_size> bytes{};
        std::copy_n(wire.begin() + static_cast<std::ptrdiff_t>(pos), yamux::header_size,
                    bytes.begin());
        auto h = yamux::FrameHeader::decode(bytes);
        if (!h) {
            std::cerr << "capture: a Yamux header does not parse at offset " << pos << "\n";
            break;
        }
        std::size_t size = yamux::header_size;
        if (h->type == yamux::FrameType::data) size += h->length;
        if (wire.size() - pos < size) break;
        frames.emplace_back(wire.begin() + static_cast<std::ptrdiff_t>(pos),
                            wire.begin() + static_cast<std::ptrdiff_t>(pos + size));
        auto name = frame_name(*h);
        if (frame_seeds && kinds.insert(name).second)
            seed("yamux_frame", prefix + name, BytesView(bytes), h->encode() == bytes);
        pos += size;
    }
    Bytes session = cat({one(keel_is_client ? 1 : 0), one(0xff)});
    for (std::size_t i = 0; i < streams_opened; ++i)
        session = cat({session, one(7), one(0), chunk(Bytes{})});
    std::size_t used = 0;
    for (const auto& f : frames) {
        Bytes op = cat({one(0), one(0), chunk(f)});
        if (session.size() + op.size() > max_seed) break;
        session = cat({session, op});
        ++used;
    }
    std::cout << "yamux: " << frames.size() << " frames received, " << used
              << " in the session seed\n";
    seed("yamux_session", prefix + "session", session, used > 0);
}

awaitable<int> capture(Options opt) {
    auto ex = co_await asio::this_coro::executor;
    // /ip4/A/tcp/P[/p2p/ID]
    std::vector<std::string> parts;
    for (std::size_t i = 1, j; i <= opt.addr.size(); i = j + 1) {
        j = opt.addr.find('/', i);
        if (j == std::string::npos) j = opt.addr.size();
        parts.push_back(opt.addr.substr(i, j - i));
    }
    if (parts.size() < 4 || parts[0] != "ip4" || parts[2] != "tcp") {
        std::cerr << "capture: --addr must be /ip4/A/tcp/P[/p2p/ID]\n";
        co_return 2;
    }
    asio::ip::tcp::endpoint endpoint(asio::ip::make_address(parts[1]),
                                     static_cast<std::uint16_t>(std::stoi(parts[3])));
    asio::ip::tcp::socket socket(ex);
    if (auto ec = co_await with_deadline(connect_socket(socket, endpoint), step_timeout)) {
        std::cerr << "capture: connect " << opt.addr << ": " << ec.message() << "\n";
        co_return 1;
    }

    auto identity = Ed25519KeyPair::generate();
    auto our_peer = PeerId::from_public_key(identity.public_key());
    auto raw_log = std::make_shared<Bytes>();
    auto raw = std::make_unique<RecordingStream>(
        std::unique_ptr<ByteStream>(std::make_unique<TcpStream>(std::move(socket))), raw_log);

    // multistream-select for the security protocol.
    const std::vector<std::string> noise_protocols{std::string(noise_protocol_id)};
    auto security = co_await with_deadline(multistream_select(*raw, noise_protocols), step_timeout);
    if (!security) {
        std::cerr << "capture: /noise: " << security.error().message() << "\n";
        co_return 1;
    }
    multistream_seed("noise-answer", *raw_log);
    raw_log->clear();

    // Noise XX as the initiator, driven here so that the remote's payload is seen in the clear.
    const std::vector<std::string> our_muxers{std::string(yamux_protocol_id)};
    NoiseIdentity noise_identity(identity, our_muxers);
    noise::HandshakeState hs(noise::Role::initiator, {}, noise_identity.static_keys());
    auto m1 = hs.write_message({});
    if (!m1) co_return 1;
    if (auto ec = co_await with_deadline(raw->write_all(fuzz::noise_framed(*m1)), step_timeout))
        co_return 1;
    auto m2 = co_await next_handshake_message(*raw, hs, std::string("message 2"));
    if (!m2) co_return 1;
    const Bytes& payload = m2->payload;
    pb::NoiseHandshakePayload parsed;
    bool payload_parses = parsed.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
    // fuzz_noise_initiator: mode 1 puts message 2 on the wire as the remote sent it (its framing
    // and size; the ciphertext cannot decrypt against the fixture's keys); mode 0 has the fixture
    // encrypt the remote's real payload (parsed, then refused: it signs another static key).
    seed("noise_initiator", "noise-m2", cat({one(1), chunk(m2->framed)}), m2->framed.size() > 2);
    seed("noise_initiator", "noise-m2-payload", cat({one(0), chunk(payload)}), payload_parses);
    seed("noise_payload", "noise-payload", payload, payload_parses);
    raw_log->clear();
    auto m3 = hs.write_message(noise_identity.payload());
    if (!m3) co_return 1;
    if (auto ec = co_await with_deadline(raw->write_all(fuzz::noise_framed(*m3)), step_timeout))
        co_return 1;
    auto plain_log = std::make_shared<Bytes>();
    auto plain = recorded_transport(hs, std::move(raw), plain_log);
    if (!plain) co_return 1;

    // The muxer: inlined when the remote's payload offered Yamux (we offer Yamux only), else
    // multistream-select inside Noise.
    const bool inlined = offers_yamux(parsed);
    if (!inlined) {
        auto muxer = co_await with_deadline(multistream_select(*plain, our_muxers), step_timeout);
        if (!muxer) {
            std::cerr << "capture: /yamux/1.0.0: " << muxer.error().message() << "\n";
            co_return 1;
        }
        multistream_seed("yamux-answer", *plain_log);
        plain_log->clear();
    }
    std::cout << "muxer: " << (inlined ? "inlined in Noise" : "multistream-select") << "\n";

    auto session = std::make_shared<YamuxSession>(std::move(plain), true);
    protocols::IdentifyInfo ours;
    ours.protocol_version = "ipfs/0.1.0";
    ours.agent_version = "keel-capture-seeds";
    ours.public_key = identity.public_key();
    ours.protocols = {std::string(protocols::identify_protocol_id)};
    session->start(
        [ex, ours](std::shared_ptr<YamuxStream> s) {
            asio::co_spawn(ex, serve_inbound(std::move(s), ours), asio::detached);
        },
        [](error_code) {});
    std::size_t streams_opened = 0;

    // identify: the whole stream for fuzz_identify_push, each message for fuzz_identify.
    {
        ++streams_opened;
        auto opened = session->open_stream();
        if (!opened) co_return 1;
        auto log = std::make_shared<Bytes>();
        RecordingStream stream(std::shared_ptr<ByteStream>(*opened), log);
        const std::vector<std::string> id_protocols{std::string(protocols::identify_protocol_id)};
        auto chosen =
            co_await with_deadline(multistream_select(stream, id_protocols), step_timeout);
        if (chosen) {
            log->clear();
            auto info = co_await with_deadline(protocols::receive_identify(stream), step_timeout);
            if (info) {
                std::cout << "identify: agent " << info->agent_version << ", "
                          << info->protocols.size() << " protocols, " << info->listen_addrs.size()
                          << " addrs\n";
                seed("identify_push", "identify-stream", *log, true);
                varint_seed("identify-length", *log);
                BytesView rest(*log);
                for (int i = 1; !rest.empty(); ++i) {
                    auto body = first_message(rest);
                    if (!body) break;
                    seed("identify", i == 1 ? "identify" : "identify-" + std::to_string(i), *body,
                         protocols::decode_identify(*body).has_value());
                    rest = rest.subspan(uvarint_size(body->size()) + body->size());
                }
            } else {
                std::cerr << "capture: identify: " << info.error().message() << "\n";
            }
        }
        stream.reset();
    }

    // Kademlia.
    const std::string kad = "/ipfs/kad/1.0.0";
    auto decoded_ok = [](BytesView framed) {
        auto body = first_message(framed);
        return body && kad::decode_message(*body).has_value();
    };
    auto kad_seeds = [&](const std::string& what, const Bytes& framed) {
        auto body = first_message(framed);
        if (!body) return;
        seed("kad_message", what, *body, decoded_ok(framed));
        framing_seeds(what, framed);
    };
    {
        kad::KadMessage find_node;
        find_node.type = kad::MessageType::find_node;
        find_node.key = PeerId::from_public_key(Ed25519KeyPair::generate().public_key()).bytes();
        ++streams_opened;
        auto x = co_await request(session, kad, kad::encode_message(find_node), true);
        if (x) {
            multistream_seed("kad-answer", x->answer);
            kad_seeds("find-node-response", x->response);
            auto m = kad::decode_message(*first_message(x->response));
            if (m) std::cout << "find-node: " << m->closer_peers.size() << " closer peers\n";
        }
    }
    {
        kad::KadMessage ping;
        ping.type = kad::MessageType::ping;
        ++streams_opened;
        auto x = co_await request(session, kad, kad::encode_message(ping), true);
        if (x) kad_seeds("ping-response", x->response);
    }
    {
        // A provider record for a sha2-256 multihash, ours, then the remote's answer for that key.
        Bytes key{0x12, 0x20};
        for (std::uint8_t i = 0; i < 32; ++i) key.push_back(static_cast<std::uint8_t>(i * 7 + 1));
        kad::KadMessage add;
        add.type = kad::MessageType::add_provider;
        add.key = key;
        kad::KadPeer me;
        me.id = our_peer;
        me.addrs.push_back(*Multiaddr::parse("/ip4/127.0.0.1/tcp/4001"));
        add.provider_peers.push_back(me);
        ++streams_opened;
        co_await request(session, kad, kad::encode_message(add), false);
        kad::KadMessage get;
        get.type = kad::MessageType::get_providers;
        get.key = key;
        ++streams_opened;
        auto x = co_await request(session, kad, kad::encode_message(get), true);
        if (x) {
            kad_seeds("get-providers-response", x->response);
            auto m = kad::decode_message(*first_message(x->response));
            if (m) std::cout << "get-providers: " << m->provider_peers.size() << " providers\n";
        }
    }

    // A ping of the session, so the remote's ping answer is among the frames, then close.
    co_await with_deadline(session->ping(), step_timeout);
    yamux_seeds(*plain_log, true, streams_opened, "yamux-", true);
    session->close();
    co_return 0;
}

// The inbound side: what a remote dialer proposes and requests on the streams it opens.
struct Inbound {
    explicit Inbound(asio::any_io_executor ex) : changed(std::move(ex)) {}
    protocols::IdentifyInfo ours;
    std::set<std::string> seen;  // seeds already written
    bool kad_request = false;    // a Kademlia request arrived and was answered
    bool closed = false;         // the session ended
    Condition changed;           // kad_request or closed became true
};

awaitable<void> serve_dialer_stream(std::shared_ptr<YamuxStream> s, std::shared_ptr<Inbound> in) {
    auto log = std::make_shared<Bytes>();
    RecordingStream stream(std::shared_ptr<ByteStream>(s), log);
    const std::string kad = "/ipfs/kad/1.0.0";
    const std::string ping = "/ipfs/ping/1.0.0";  // js checks a new DHT peer with a ping
    const std::function<bool(std::string_view)> supported = [&](std::string_view p) {
        return p == protocols::identify_protocol_id || p == kad || p == ping;
    };
    auto chosen = co_await with_deadline(multistream_handle(stream, supported), step_timeout);
    if (!chosen) {
        stream.reset();
        co_return;
    }
    auto proposal = *log;
    log->clear();
    if (*chosen == ping) {
        for (;;) {
            std::array<std::uint8_t, 32> body{};
            if (co_await with_deadline(read_exact(stream, body), step_timeout)) break;
            if (co_await with_deadline(stream.write_all(body), step_timeout)) break;
        }
        stream.reset();
        co_return;
    }
    if (*chosen != kad) {
        if (in->seen.insert("identify-proposal").second)
            seed("multistream", "identify-proposal", cat({one(1), proposal}), true);
        co_await with_deadline(protocols::send_identify(stream, in->ours), step_timeout);
        co_await with_deadline(stream.close_write(), step_timeout);
        co_return;
    }
    if (in->seen.insert("kad-proposal").second)
        seed("multistream", "kad-proposal", cat({one(1), proposal}), true);
    for (;;) {
        auto message =
            co_await with_deadline(read_length_prefixed(stream, 64 * 1024), step_timeout);
        if (!message) break;
        auto decoded = kad::decode_message(*message);
        std::string what = decoded ? std::string(kad::message_type_name(decoded->type)) : "bad";
        for (auto& c : what)
            c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        what += "-request";
        if (in->seen.insert(what).second) {
            seed("kad_message", what, *message, decoded.has_value());
            seed("framing", what, cat({one(4), one(0), *log}), true);
        }
        log->clear();
        if (!decoded) break;
        kad::KadMessage answer;  // no closer peers, no providers, no record
        answer.type = decoded->type;
        answer.key = decoded->key;
        if (decoded->type != kad::MessageType::add_provider) {
            auto ec = co_await with_deadline(
                write_length_prefixed(stream, kad::encode_message(answer)), step_timeout);
            if (ec) break;
        }
        in->kad_request = true;
        in->changed.notify();
    }
    stream.reset();
}

awaitable<error_code> accept_socket(asio::ip::tcp::acceptor& acceptor,
                                    asio::ip::tcp::socket& socket) {
    auto [ec] = co_await acceptor.async_accept(socket, use_result);
    co_return ec;
}

// Listens on 127.0.0.1, prints {"event":"listening","addrs":[MA]}, captures the first dialer.
awaitable<int> capture_inbound() {
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::acceptor acceptor(
        ex, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto identity = Ed25519KeyPair::generate();
    auto our_peer = PeerId::from_public_key(identity.public_key());
    std::string addr = "/ip4/127.0.0.1/tcp/" + std::to_string(acceptor.local_endpoint().port());
    std::cout << "{\"event\":\"listening\",\"peer_id\":\"" << our_peer.to_base58()
              << "\",\"addrs\":[\"" << addr << "/p2p/" << our_peer.to_base58() << "\"]}"
              << std::endl;
    asio::ip::tcp::socket socket(ex);
    if (auto ec = co_await with_deadline(accept_socket(acceptor, socket), Duration{60'000})) {
        std::cerr << "capture: accept: " << ec.message() << "\n";
        co_return 1;
    }
    auto raw_log = std::make_shared<Bytes>();
    auto raw = std::make_unique<RecordingStream>(
        std::unique_ptr<ByteStream>(std::make_unique<TcpStream>(std::move(socket))), raw_log);

    const std::function<bool(std::string_view)> noise_only = [](std::string_view p) {
        return p == noise_protocol_id;
    };
    auto security = co_await with_deadline(multistream_handle(*raw, noise_only), step_timeout);
    if (!security) {
        std::cerr << "capture: /noise proposal: " << security.error().message() << "\n";
        co_return 1;
    }
    seed("multistream", "noise-proposal", cat({one(1), *raw_log}), true);
    raw_log->clear();

    const std::vector<std::string> our_muxers{std::string(yamux_protocol_id)};
    NoiseIdentity noise_identity(identity, our_muxers);
    noise::HandshakeState hs(noise::Role::responder, {}, noise_identity.static_keys());
    auto m1 = co_await next_handshake_message(*raw, hs, std::string("message 1"));
    if (!m1) co_return 1;
    auto m2 = hs.write_message(noise_identity.payload());
    if (!m2) co_return 1;
    if (auto ec = co_await with_deadline(raw->write_all(fuzz::noise_framed(*m2)), step_timeout))
        co_return 1;
    auto m3 = co_await next_handshake_message(*raw, hs, std::string("message 3"));
    if (!m3) co_return 1;
    const Bytes& p3 = m3->payload;
    pb::NoiseHandshakePayload parsed;
    bool parses = parsed.ParseFromArray(p3.data(), static_cast<int>(p3.size()));
    // fuzz_noise_responder: modes 1|2 put messages 1 and 3 on the wire as the remote sent them
    // (message 1 is a valid one; message 3 cannot decrypt against this run's keys); mode 0 has
    // the fixture encrypt the remote's real payloads. fuzz_noise_payload: the payload of
    // message 3, exactly that target's input.
    seed("noise_responder", "noise-m1-m3", cat({one(3), chunk(m1->framed), chunk(m3->framed)}),
         true);
    seed("noise_responder", "noise-m3-payload", cat({one(0), chunk(m1->payload), chunk(p3)}),
         parses);
    seed("noise_payload", "noise-m3-payload", p3, parses);
    raw_log->clear();
    auto plain_log = std::make_shared<Bytes>();
    auto plain = recorded_transport(hs, std::move(raw), plain_log);
    if (!plain) co_return 1;
    const bool inlined = offers_yamux(parsed);
    if (!inlined) {
        const std::function<bool(std::string_view)> yamux_only = [](std::string_view p) {
            return p == yamux_protocol_id;
        };
        auto muxer = co_await with_deadline(multistream_handle(*plain, yamux_only), step_timeout);
        if (!muxer) {
            std::cerr << "capture: /yamux/1.0.0 proposal: " << muxer.error().message() << "\n";
            co_return 1;
        }
        seed("multistream", "yamux-proposal", cat({one(1), *plain_log}), true);
        plain_log->clear();
    }
    std::cout << "muxer: " << (inlined ? "inlined in Noise" : "multistream-select") << "\n";

    auto in = std::make_shared<Inbound>(ex);
    in->ours.protocol_version = "ipfs/0.1.0";
    in->ours.agent_version = "keel-capture-seeds";
    in->ours.public_key = identity.public_key();
    in->ours.listen_addrs.push_back(*Multiaddr::parse(addr));
    in->ours.protocols = {std::string(protocols::identify_protocol_id), "/ipfs/kad/1.0.0",
                          "/ipfs/ping/1.0.0"};
    auto session = std::make_shared<YamuxSession>(std::move(plain), false);
    session->start(
        [ex, in](std::shared_ptr<YamuxStream> s) {
            asio::co_spawn(ex, serve_dialer_stream(std::move(s), in), asio::detached);
        },
        [in](error_code) {
            in->closed = true;
            in->changed.notify();
        });
    // Until the dialer's first Kademlia request was answered (it bootstraps off this node), 30 s
    // at most. Then a fixed half second of capture for the frames that follow it (what the
    // dialer sends next has no end to wait for: this is the recording window, not a wait).
    auto answered = [in] { return in->kad_request || in->closed; };
    co_await in->changed.until(answered, Clock::now() + std::chrono::seconds(30));
    asio::steady_timer window(ex, 500ms);
    co_await window.async_wait(use_result);
    if (!in->kad_request) std::cerr << "capture: no Kademlia request from the dialer\n";
    yamux_seeds(*plain_log, false, 0, "yamux-dialer-", false);
    session->close();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        if (flag == "--label")
            options.label = argv[i + 1];
        else if (flag == "--addr")
            options.addr = argv[i + 1];
        else if (flag == "--out")
            options.out = argv[i + 1];
        else if (flag == "--listen")
            options.listen = std::string(argv[i + 1]) == "1";
    }
    if (options.label.empty() || (options.addr.empty() && !options.listen) || options.out.empty()) {
        std::cerr << "usage: fuzz_capture_seeds --label L (--addr /ip4/A/tcp/P[/p2p/ID] | "
                     "--listen 1) --out DIR\n";
        return 2;
    }
    asio::io_context io;
    int rc = 1;
    auto done = [&](std::exception_ptr e, int r) {
        rc = e ? 1 : r;
        io.stop();
    };
    if (options.listen)
        asio::co_spawn(io, capture_inbound(), done);
    else
        asio::co_spawn(io, capture(options), done);
    io.run();
    std::cout << "capture " << options.label << ": " << written << " seeds written, " << refused
              << " not written\n";
    return rc != 0 ? rc : (refused > 0 ? 3 : 0);
}
