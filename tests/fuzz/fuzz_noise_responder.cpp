// The libp2p Noise XX handshake with Keel as the responder (every inbound connection of a
// bootstrap), then its transport. The remote (noise_fixture.hpp, fixed keys) is driven by the
// input: a mode byte says, per message, whether the fuzzer's chunk goes on the wire as is (framing,
// lengths, ciphertext) or is the plaintext payload that the remote encrypts with a real handshake
// (payload protobuf, identity key, signature, extensions); after the handshake each chunk is a
// transport frame (raw, or encrypted with the real keys) that Keel reads through its NoiseStream.
// Properties: a handshake that succeeds names the remote's real identity and a peer ID derived
// from it, picks a muxer Keel offered, and no read returns more than the remote sent.
#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/net/memory_stream.hpp"
#include "noise_fixture.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t mode = in.byte();
    net::asio::io_context io;
    auto pair = net::make_memory_stream_pair(io.get_executor());
    auto& remote = pair.second;
    auto keel_side = std::move(pair.first);
    std::size_t plaintext_sent = 0;

    fuzz::drive(io, [&]() -> net::awaitable<void> {
        net::asio::co_spawn(
            io,
            [&, raw = std::move(keel_side)]() mutable -> net::awaitable<void> {
                auto secured = co_await net::noise_secure(std::move(raw), noise::Role::responder,
                                                          fuzz::local_identity(),
                                                          fuzz::local_muxers(), std::nullopt);
                if (!secured) co_return;
                KEEL_FUZZ_CHECK(secured->remote_key == fuzz::remote_identity().public_key());
                KEEL_FUZZ_CHECK(secured->remote_peer ==
                                PeerId::from_public_key(secured->remote_key));
                if (secured->muxer) {
                    const auto& ours = fuzz::local_muxers();
                    KEEL_FUZZ_CHECK(std::find(ours.begin(), ours.end(), *secured->muxer) !=
                                    ours.end());
                }
                std::array<std::uint8_t, 4096> buffer{};
                std::size_t received = 0;
                for (;;) {
                    auto n = co_await secured->stream->read_some(buffer);
                    if (!n) break;
                    received += *n;
                    KEEL_FUZZ_CHECK(*n > 0 && received <= plaintext_sent);
                }
            },
            [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });

        auto hs = fuzz::remote_handshake(noise::Role::initiator);
        bool in_sync = true;  // false once a raw message went out: the rest is raw too
        // Message 1: -> e (with a payload, which Keel reads and ignores).
        auto chunk = in.chunk();
        if (mode & 1) {
            co_await remote->write_all(chunk);
            in_sync = false;
        } else {
            auto m1 = hs.write_message(chunk);
            if (!m1) co_return;
            co_await remote->write_all(fuzz::noise_framed(*m1));
        }
        // Message 2: <- e, ee, s, es from Keel.
        if (in_sync) {
            std::array<std::uint8_t, 2> prefix{};
            if (co_await net::read_exact(*remote, prefix)) co_return;
            Bytes m2(std::size_t{prefix[0]} << 8 | prefix[1]);
            if (co_await net::read_exact(*remote, m2)) co_return;
            in_sync = hs.read_message(m2).has_value();
        }
        // Message 3: -> s, se with the payload.
        chunk = in.chunk();
        if ((mode & 2) || !in_sync) {
            co_await remote->write_all(chunk);
            in_sync = false;
        } else {
            auto m3 = hs.write_message(chunk);
            if (!m3) co_return;
            co_await remote->write_all(fuzz::noise_framed(*m3));
        }
        // Transport frames.
        std::optional<noise::HandshakeState::Split> split;
        if (in_sync) {
            auto s = hs.split();
            if (s) split = std::move(*s);
        }
        while (!in.empty()) {
            bool raw = in.flag();
            chunk = in.chunk();
            if (raw || !split) {
                co_await remote->write_all(chunk);
                plaintext_sent += chunk.size();  // an upper bound on what Keel can decrypt
            } else {
                auto part = chunk.first(std::min(chunk.size(), net::noise_max_plaintext));
                auto ciphertext = split->send.encrypt_with_ad({}, part);
                if (!ciphertext) break;
                co_await remote->write_all(fuzz::noise_framed(*ciphertext));
                plaintext_sent += part.size();
            }
        }
        co_await remote->close_write();
    });
    return 0;
}
