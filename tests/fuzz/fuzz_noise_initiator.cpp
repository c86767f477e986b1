// The libp2p Noise XX handshake with Keel as the initiator (every dial, to a peer that may be
// hostile), then its transport. The remote responder (noise_fixture.hpp, fixed keys) is driven by
// the input: a mode byte says whether message 2 is the fuzzer's chunk as is on the wire, or the
// plaintext payload the remote encrypts in a real handshake; bit 2 makes Keel expect the remote's
// real peer ID (as a dial to /p2p/ID does). After the handshake each chunk is a transport frame
// (raw or encrypted with the real keys). Properties: a handshake that succeeds names the remote's
// real identity (and, when one was expected, that peer), picks a muxer Keel offered, and no read
// returns more than the remote sent.
#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/net/memory_stream.hpp"
#include "noise_fixture.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t mode = in.byte();
    std::optional<PeerId> expected;
    if (mode & 4) expected = PeerId::from_public_key(fuzz::remote_identity().public_key());
    net::asio::io_context io;
    auto pair = net::make_memory_stream_pair(io.get_executor());
    auto& remote = pair.second;
    auto keel_side = std::move(pair.first);
    std::size_t plaintext_sent = 0;

    fuzz::drive(io, [&]() -> net::awaitable<void> {
        net::asio::co_spawn(
            io,
            [&, raw = std::move(keel_side)]() mutable -> net::awaitable<void> {
                auto secured = co_await net::noise_secure(std::move(raw), noise::Role::initiator,
                                                          fuzz::local_identity(),
                                                          fuzz::local_muxers(), expected);
                if (!secured) co_return;
                KEEL_FUZZ_CHECK(secured->remote_key == fuzz::remote_identity().public_key());
                KEEL_FUZZ_CHECK(secured->remote_peer ==
                                PeerId::from_public_key(secured->remote_key));
                if (expected) KEEL_FUZZ_CHECK(secured->remote_peer == *expected);
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

        auto hs = fuzz::remote_handshake(noise::Role::responder);
        bool in_sync = true;
        // Message 1 from Keel: -> e.
        std::array<std::uint8_t, 2> prefix{};
        if (co_await net::read_exact(*remote, prefix)) co_return;
        Bytes m1(std::size_t{prefix[0]} << 8 | prefix[1]);
        if (co_await net::read_exact(*remote, m1)) co_return;
        if (!hs.read_message(m1)) co_return;
        // Message 2: <- e, ee, s, es with the remote's payload.
        auto chunk = in.chunk();
        if (mode & 1) {
            co_await remote->write_all(chunk);
            in_sync = false;
        } else {
            auto m2 = hs.write_message(chunk);
            if (!m2) co_return;
            co_await remote->write_all(fuzz::noise_framed(*m2));
            // Message 3 from Keel: -> s, se (only when it accepted message 2).
            if (co_await net::read_exact(*remote, prefix)) {
                in_sync = false;
            } else {
                Bytes m3(std::size_t{prefix[0]} << 8 | prefix[1]);
                if (co_await net::read_exact(*remote, m3)) co_return;
                in_sync = hs.read_message(m3).has_value();
            }
        }
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
                plaintext_sent += chunk.size();
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
