#include "keel/client/client_node.hpp"

namespace keel::client {

HostConfig client_host_config(const ClientOptions& options) {
    HostConfig config(options.key ? *options.key : Ed25519KeyPair::generate());
    kad::apply_identity(options.network, config);
    config.inline_muxer = options.inline_muxer;
    if (options.phase_timeout)
        config.dial_timeout = config.handshake_timeout = config.identify_timeout =
            config.negotiate_timeout = *options.phase_timeout;
    return config;
}

kad::DhtConfig client_dht_config(const ClientOptions& options) {
    kad::DhtConfig config;
    config.profile = options.network;
    config.server_mode = options.dht == ClientOptions::DhtMode::server;
    if (options.phase_timeout) config.rpc_timeout = *options.phase_timeout;
    if (options.lookup_timeout) config.lookup_timeout = *options.lookup_timeout;
    return config;
}

ClientNode::ClientNode(net::asio::any_io_executor executor, const ClientOptions& options)
    : host_(std::make_unique<Host>(std::move(executor), client_host_config(options))) {
    if (options.dht != ClientOptions::DhtMode::none)
        dht_ = std::make_unique<kad::Dht>(*host_, client_dht_config(options));
}

ClientNode::~ClientNode() = default;

void ClientNode::stop() {
    if (dht_) dht_->stop();
    host_->stop();
}

}  // namespace keel::client
