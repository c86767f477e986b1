#include "keel/host/upgrader.hpp"

#include "keel/net/multistream.hpp"
#include "keel/net/net_errc.hpp"

namespace keel {

namespace {
using result_of_select = net::result<std::string>;
}  // namespace

std::shared_ptr<const net::NoiseIdentity> make_noise_identity(const Ed25519KeyPair& identity,
                                                              bool inline_muxer) {
    std::vector<std::string> offered;
    if (inline_muxer) offered.emplace_back(net::yamux_protocol_id);
    return std::make_shared<const net::NoiseIdentity>(identity, std::move(offered));
}

net::awaitable<net::result<Upgraded>> upgrade_connection(std::unique_ptr<net::ByteStream> raw,
                                                         bool initiator,
                                                         const UpgradeConfig& config,
                                                         std::optional<PeerId> expected_peer,
                                                         Phase& phase) {
    const std::string noise(net::noise_protocol_id);
    const std::string yamux(net::yamux_protocol_id);
    const std::vector<std::string> yamux_only{yamux};

    // Plain if/else rather than `c ? co_await a : co_await b`: GCC 12 destroys the temporaries of
    // that form twice.
    phase = Phase::security;
    auto is_noise = [&](std::string_view p) { return p == noise; };
    auto is_yamux = [&](std::string_view p) { return p == yamux; };
    // The dialer proposes Noise alone, so it negotiates lazily (as rust-libp2p dials): proposal
    // and Noise message 1 in one write, the answer read before message 2. A listener whose dialer
    // did so answers together with message 2.
    net::Preamble preamble;
    if (initiator) {
        preamble = net::multistream_lazy(noise);
    } else {
        auto security = co_await net::multistream_handle(*raw, is_noise, &preamble.send);
        if (!security) co_return security.error();
    }

    auto secured = co_await net::noise_secure(
        std::move(raw), initiator ? noise::Role::initiator : noise::Role::responder, *config.noise,
        expected_peer, std::move(preamble));
    if (!secured) co_return secured.error();

    phase = Phase::muxer;
    bool inlined = secured->muxer.has_value();
    if (!inlined) {
        result_of_select muxer = make_error_code(net::net_errc::protocol_not_supported);
        if (initiator)
            muxer = co_await net::multistream_select(*secured->stream, yamux_only);
        else
            muxer = co_await net::multistream_handle(*secured->stream, is_yamux);
        if (!muxer) co_return muxer.error();
    } else if (*secured->muxer != yamux) {
        co_return make_error_code(net::net_errc::no_common_muxer);
    }
    auto session =
        std::make_shared<net::YamuxSession>(std::move(secured->stream), initiator, config.yamux);
    co_return Upgraded{std::move(secured->remote_peer), std::move(secured->remote_key),
                       std::move(session), yamux, inlined};
}

}  // namespace keel
