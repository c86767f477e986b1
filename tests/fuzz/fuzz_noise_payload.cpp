// The Noise handshake payload (NoiseHandshakePayload: identity_key, identity_sig, extensions with
// stream_muxers and webtransport_certhashes) as Keel, the responder, receives it in message 3:
// the whole input is the payload's plaintext, which the remote (noise_fixture.hpp) encrypts in a
// real handshake, so every input reaches Keel's payload checks. Properties: the handshake
// succeeds only for the remote's real identity with a valid signature; the muxer chosen is the
// first of the remote's (the initiator's) muxers that Keel offers, as
// connections/inlined-muxer-negotiation.md says, and none when either list is empty.
#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/net/memory_stream.hpp"
#include "noise_fixture.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    BytesView payload(data, size);
    if (payload.size() > net::max_noise_handshake_message - 128) return 0;  // would not fit
    net::asio::io_context io;
    auto pair = net::make_memory_stream_pair(io.get_executor());
    auto& remote = pair.second;
    auto keel_side = std::move(pair.first);
    bool succeeded = false;
    std::optional<std::string> muxer;

    fuzz::drive(io, [&]() -> net::awaitable<void> {
        net::asio::co_spawn(
            io,
            [&, raw = std::move(keel_side)]() mutable -> net::awaitable<void> {
                auto secured = co_await net::noise_secure(std::move(raw), noise::Role::responder,
                                                          fuzz::local_identity(),
                                                          fuzz::local_muxers(), std::nullopt);
                if (!secured) co_return;
                KEEL_FUZZ_CHECK(secured->remote_key == fuzz::remote_identity().public_key());
                succeeded = true;
                muxer = secured->muxer;
            },
            [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
        auto hs = fuzz::remote_handshake(noise::Role::initiator);
        auto m1 = hs.write_message({});
        if (!m1) co_return;
        co_await remote->write_all(fuzz::noise_framed(*m1));
        std::array<std::uint8_t, 2> prefix{};
        if (co_await net::read_exact(*remote, prefix)) co_return;
        Bytes m2(std::size_t{prefix[0]} << 8 | prefix[1]);
        if (co_await net::read_exact(*remote, m2)) co_return;
        KEEL_FUZZ_CHECK(hs.read_message(m2).has_value());  // Keel's own message 2 is valid
        auto m3 = hs.write_message(payload);
        KEEL_FUZZ_CHECK(m3.has_value());
        co_await remote->write_all(fuzz::noise_framed(*m3));
        co_await remote->close_write();
    });

    if (succeeded) {
        pb::NoiseHandshakePayload parsed;
        KEEL_FUZZ_CHECK(parsed.ParseFromArray(data, static_cast<int>(size)));
        std::optional<std::string> expected;
        const auto& ours = fuzz::local_muxers();
        const auto& theirs = parsed.extensions().stream_muxers();
        if (!theirs.empty()) {
            for (const auto& m : theirs) {
                if (std::find(ours.begin(), ours.end(), m) != ours.end()) {
                    expected = m;
                    break;
                }
            }
            // No common muxer fails the handshake.
            KEEL_FUZZ_CHECK(expected.has_value());
        }
        KEEL_FUZZ_CHECK(muxer == expected);
    }
    return 0;
}
