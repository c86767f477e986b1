// keel id: create or show this node's identity (an Ed25519 key kept as a libp2p PrivateKey).
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/base/hex.hpp"
#include "keel/crypto/identity_file.hpp"
#include "keel/crypto/peer_id.hpp"

namespace keel::cli {

void add_id_command(CLI::App& app, int& exit_code) {
    struct Options {
        std::string identity;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("id", "Create (if missing) and show this node's identity");
    cmd->add_option("--identity", opts->identity,
                    "Key file (default: DATA_DIR/identity.key, DATA_DIR from $KEEL_DATA_DIR)");
    cmd->add_flag("--json", opts->json, "Print JSON");
    cmd->callback([opts, &exit_code]() {
        std::filesystem::path path = opts->identity.empty() ? default_data_dir() / "identity.key"
                                                            : std::filesystem::path(opts->identity);
        bool created = false;
        auto key = load_or_create_identity(path, &created);
        if (!key) {
            std::cerr << "keel id: " << path << ": " << key.error().message() << "\n";
            exit_code = 1;
            return;
        }
        auto peer = PeerId::from_public_key(key->public_key());
        if (opts->json) {
            emit({{"peer_id", peer.to_base58()},
                  {"path", path.string()},
                  {"created", created},
                  {"public_key", to_hex(key->public_key().marshal())}});
        } else {
            std::cout << peer.to_base58() << "\n";
            if (created) std::cerr << "created " << path << "\n";
        }
    });
}

}  // namespace keel::cli
