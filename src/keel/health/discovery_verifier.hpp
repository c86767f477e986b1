#pragma once
// Discovery verification (DESIGN.md, the brief's six steps): "DHT connected" is not "peers can see
// each other". Each step runs under its own deadline and reports a status, a duration, what it
// found and, when it did not pass, a remedy hint:
//   1 routing_table     the routing table has at least one peer
//   2 publish           our /pk/ record (key "/pk/" + our peer ID, value our public key) is
//                       stored by at least one DHT server (PUT_VALUE, quorum 1)
//   3 fetch_remote      another peer (not our local store) returns that exact record to a GET_VALUE
//   4 list_peers        at least one peer besides us and the bootstraps was discovered (peer
//                       store + routing table): a bootstrap alone proves nothing about discovery.
//                       When we know nobody else, the bootstraps are asked (FIND_NODE for our
//                       key, /keel/health for their routing table size): if they know nobody else
//                       either, the network is too small to check (not_enough_peers, neither
//                       passed nor failed); if one holds peers its FIND_NODE did not name, or
//                       none answers FIND_NODE, the step fails
//   5 reachability      both directions: we ping a discovered peer (a non-bootstrap one first),
//                       and that peer reaches us: it pings us back over a stream it opens
//                       (/keel/health ping_back), or, for peers that do not speak /keel/health,
//                       it opened a connection or a stream (not identify) to us on its own;
//                       failing the target, any other peer that did so within the step counts
//   6 provider_visible  after providing a random CID, at least one of the k closest peers to it
//                       lists us in a GET_PROVIDERS answer
// Dependencies: when step 1 fails, steps 2, 3 and 6 are skipped (they need DHT peers) with step
// 1's remedy; steps 4 and 5 still run (they use the peer store and open connections). When step 2
// fails, step 3 is skipped (there is nothing to fetch). A skipped step is reported once, with
// status skipped; a step that runs is reported twice, running and then passed, failed or
// not_enough_peers.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/host/host.hpp"
#include "keel/kad/dht.hpp"
#include "keel/protocols/keel_health.hpp"

namespace keel::health {

struct VerificationStep {
    // not_enough_peers: the network is too small for the step to show anything (a network of
    // one: nobody but us and the bootstraps, as the bootstraps themselves confirm). Not a pass
    // (nothing was shown to work) and not a failure (nothing was found broken).
    enum class Status { pending, running, passed, failed, skipped, not_enough_peers };

    std::string id;     // "routing_table", "publish", …
    std::string title;  // "routing table populated", …
    Status status = Status::pending;
    double duration_ms = 0;
    std::string detail;  // what the step found
    std::string remedy;  // empty when passed
};

std::string_view status_name(VerificationStep::Status status);

// The verdict on a run: "passed" when every step passed, "not_enough_peers" when none failed or
// was skipped but some could not be checked for want of peers, "failed" otherwise.
std::string_view overall_result(const std::vector<VerificationStep>& steps);

struct VerifierConfig {
    net::Duration step_timeout{10'000};  // each step's deadline
    // Peers we joined through: they do not count as discovered (step 4) and are pinged only
    // when no other peer answers (step 5). When empty, step 5 avoids the peer of our oldest
    // connection instead.
    std::vector<PeerId> bootstrap_peers;
    std::size_t max_ping_candidates = 3;  // step 5: peers tried before giving up
    std::size_t peers_shown = 5;          // step 4: short IDs listed in the detail
    // Step 6 asks the closest peers through this DHT client, a second identity ("another
    // user"): rust-libp2p leaves the asking peer out of the providers it lists, so asked as
    // ourselves a rust server never shows our record. Null: ask as ourselves.
    kad::Dht* observer = nullptr;
    // Paces our /keel/health requests to each peer; shared with the health monitor's probes
    // (ProbeConfig::health_requests) so that neither runs into the peer's rate limit. Null: the
    // verifier paces its own.
    std::shared_ptr<protocols::HealthRequestPacer> health_requests;
};

class DiscoveryVerifier {
  public:
    static constexpr std::size_t step_count = 6;

    DiscoveryVerifier(Host& host, kad::Dht& dht, VerifierConfig config = {});

    // `index` is the step's position, 0 … step_count - 1.
    using Progress = std::function<void(const VerificationStep&, std::size_t index)>;
    // Runs the first `steps` steps in order (all six by default; the API's discovery test runs
    // three: routing table, publish, fetch back); returns them (skipped ones included).
    net::awaitable<std::vector<VerificationStep>> run(Progress on_progress = {},
                                                      std::size_t steps = step_count);

    struct Outcome {
        VerificationStep::Status status = VerificationStep::Status::failed;
        std::string detail;
        std::string remedy;
    };

  private:
    net::awaitable<net::result<Outcome>> check_routing_table();
    net::awaitable<net::result<Outcome>> publish();
    net::awaitable<net::result<Outcome>> fetch_remote();
    net::awaitable<net::result<Outcome>> list_peers();
    net::awaitable<net::result<Outcome>> ask_bootstraps(std::string detail, bool knew_nobody);
    net::awaitable<net::result<Outcome>> reachability();
    net::awaitable<net::result<Outcome>> provider_visible();
    net::awaitable<net::result<Outcome>> run_step(std::size_t index);

    bool is_bootstrap(const PeerId& peer) const;

    Host& host_;
    kad::Dht& dht_;
    VerifierConfig config_;
    Bytes record_key_;
    Bytes record_value_;
};

}  // namespace keel::health
