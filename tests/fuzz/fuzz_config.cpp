// The TOML configuration (apply_config_text: `--config`, /etc/keel/keel.toml) over a node's
// defaults. Properties: bad input is a ConfigError naming the problem, never another exception or
// a crash (toml++ parse errors included); accepted settings build every library config without
// throwing anything but ConfigError (an unknown profile), and every duration stays within
// max_duration.
#include "fuzz_util.hpp"
#include "keel/app/duration.hpp"
#include "keel/app/node_settings.hpp"
#include "keel/crypto/ed25519.hpp"

using namespace keel;
using namespace keel::app;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const auto role = in.flag() ? NodeRole::bootstrap : NodeRole::node;
    auto text = as_chars(in.rest());
    auto settings = NodeSettings::defaults(role);
    try {
        apply_config_text(text, "fuzz.toml", settings);
    } catch (const ConfigError&) {
        return 0;
    }
    for (auto d : {settings.dial_timeout, settings.handshake_timeout, settings.identify_timeout,
                   settings.negotiate_timeout, settings.probe_interval, settings.probe_timeout,
                   settings.backoff_initial, settings.backoff_max, settings.rpc_timeout,
                   settings.lookup_timeout, settings.refresh_interval, settings.step_timeout})
        KEEL_FUZZ_CHECK(d.count() >= 0 && d <= max_duration);
    try {
        (void)settings.api_endpoint();
        (void)settings.host_config(Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{1}));
        (void)settings.dht_config(role);
        (void)settings.monitor_config();
        (void)settings.verifier_config();
    } catch (const ConfigError&) {
    }
    return 0;
}
