#include "keel/p2pd/dht_requests.hpp"

#include "keel/base/cid.hpp"
#include "keel/net/deadline.hpp"
#include "keel/p2pd/control_messages.hpp"

namespace keel::p2pd {
namespace {

using DHTRequest = pb::p2pd::DHTRequest;
using DHTResponse = pb::p2pd::DHTResponse;

// The default and ceiling of FIND_PROVIDERS' count: what one lookup can usefully return.
constexpr std::size_t default_provider_count = 20;
constexpr std::size_t max_provider_count = 1000;

struct Writer {
    net::ByteStream& control;
    DhtAnswer answer;

    net::awaitable<void> send(const google::protobuf::MessageLite& message) {
        if (answer.write_error) co_return;
        answer.write_error = co_await write_message(control, message);
    }
    net::awaitable<void> error(std::string message) {
        answer.answered_error = true;
        co_await send(error_response(message));
    }
    net::awaitable<void> ok() { co_await send(ok_response()); }
    net::awaitable<void> value(DHTResponse dht) {
        auto response = ok_response();
        *response.mutable_dht() = std::move(dht);
        co_await send(response);
    }
    // The streaming form: BEGIN inside a Response, then bare DHTResponses.
    net::awaitable<void> stream(const std::vector<DHTResponse>& values) {
        DHTResponse begin;
        begin.set_type(DHTResponse::BEGIN);
        co_await value(std::move(begin));
        for (const auto& v : values) co_await send(v);
        DHTResponse end;
        end.set_type(DHTResponse::END);
        co_await send(end);
    }
};

// The ERROR's text when `outcome` is a fired deadline or a failure. (Not a coroutine that answers
// it: GCC 12 destroyed the message, a temporary of a ?: inside a co_await, twice; found by
// DhtRequests.ValueNobodyHasIsAnError.)
template <class T>
std::optional<std::string> failure_text(std::string_view name,
                                        const std::optional<net::result<T>>& outcome) {
    if (outcome && *outcome) return std::nullopt;
    return std::string(name) + ": " +
           (outcome ? outcome->error().message() : std::string("timed out"));
}

DHTResponse value_response(BytesView bytes) {
    DHTResponse r;
    r.set_type(DHTResponse::VALUE);
    r.set_value(bytes.data(), bytes.size());
    return r;
}

DHTResponse peer_response(const PeerId& peer, const std::vector<Multiaddr>& addrs) {
    DHTResponse r;
    r.set_type(DHTResponse::VALUE);
    *r.mutable_peer() = peer_info(peer, addrs);
    return r;
}

// A CID's DHT key is its multihash (what js-libp2p and go-libp2p announce under).
std::optional<Bytes> content_key(const DHTRequest& request) {
    if (!request.has_cid()) return std::nullopt;
    auto cid = Cid::from_bytes(as_bytes(request.cid()));
    if (!cid) return std::nullopt;
    return cid->hash.encode();
}

}  // namespace

net::awaitable<DhtAnswer> answer_dht_request(kad::Dht& dht, const DHTRequest& request,
                                             net::ByteStream& control, net::Duration timeout) {
    Writer out{control, {}};
    switch (request.type()) {
        case DHTRequest::FIND_PEER: {
            auto peer = peer_id_field(request.peer());
            if (!peer) {
                co_await out.error("FIND_PEER needs a valid peer ID");
                break;
            }
            auto found = co_await net::within_deadline(dht.find_peer(*peer), timeout);
            if (auto why = failure_text("FIND_PEER", found)) {
                co_await out.error(std::move(*why));
                break;
            }
            co_await out.value(peer_response(*peer, **found));
            break;
        }
        case DHTRequest::FIND_PROVIDERS: {
            auto key = content_key(request);
            if (!key) {
                co_await out.error("FIND_PROVIDERS needs a valid CID");
                break;
            }
            std::size_t count = default_provider_count;
            if (request.has_count() && request.count() > 0)
                count = std::min<std::size_t>(static_cast<std::size_t>(request.count()),
                                              max_provider_count);
            // What was found before the deadline is still an answer.
            std::vector<DHTResponse> values;
            auto collect = [&values](const kad::ProviderEntry& p) {
                values.push_back(peer_response(p.provider, p.addrs));
            };
            co_await net::within_deadline(dht.find_providers(*key, count, collect), timeout);
            if (values.size() > count) values.resize(count);
            co_await out.stream(values);
            break;
        }
        case DHTRequest::GET_CLOSEST_PEERS: {
            if (!request.has_key()) {
                co_await out.error("GET_CLOSEST_PEERS needs a key");
                break;
            }
            auto result = co_await net::within_deadline(
                dht.get_closest_peers(to_bytes(request.key())), timeout);
            if (!result) {
                co_await out.error("GET_CLOSEST_PEERS: timed out");
                break;
            }
            // Both forms: the spec's peer ID in `value`, and the PeerInfo newer clients read.
            std::vector<DHTResponse> values;
            for (const auto& id : result->closest) {
                auto r = value_response(id.bytes());
                *r.mutable_peer() = peer_info(id, dht.host().peer_store().addrs(id));
                values.push_back(std::move(r));
            }
            co_await out.stream(values);
            break;
        }
        case DHTRequest::GET_PUBLIC_KEY: {
            auto peer = peer_id_field(request.peer());
            if (!peer) {
                co_await out.error("GET_PUBLIC_KEY needs a valid peer ID");
                break;
            }
            std::optional<PublicKey> key = peer->extract_public_key();
            if (!key)
                if (auto info = dht.host().peer_store().get(*peer)) key = info->public_key;
            if (!key)
                co_await out.error("GET_PUBLIC_KEY: no public key known for " + peer->to_base58());
            else
                co_await out.value(value_response(key->marshal()));
            break;
        }
        case DHTRequest::GET_VALUE:
        case DHTRequest::SEARCH_VALUE: {
            bool search = request.type() == DHTRequest::SEARCH_VALUE;
            std::string_view name = search ? "SEARCH_VALUE" : "GET_VALUE";
            if (!request.has_key()) {
                co_await out.error(std::string(name) + " needs a key");
                break;
            }
            auto value =
                co_await net::within_deadline(dht.get_value(to_bytes(request.key())), timeout);
            if (auto why = failure_text(name, value)) {
                co_await out.error(std::move(*why));
                break;
            }
            if (search) {
                std::vector<DHTResponse> found;  // a named vector: GCC 12 mishandles a braced
                found.push_back(value_response(**value));  // temporary in a co_await
                co_await out.stream(found);
            } else
                co_await out.value(value_response(**value));
            break;
        }
        case DHTRequest::PUT_VALUE: {
            if (!request.has_key() || !request.has_value()) {
                co_await out.error("PUT_VALUE needs a key and a value");
                break;
            }
            auto stored = co_await net::within_deadline(
                dht.put_value(to_bytes(request.key()), to_bytes(request.value())), timeout);
            if (auto why = failure_text("PUT_VALUE", stored)) {
                co_await out.error(std::move(*why));
                break;
            }
            co_await out.ok();
            break;
        }
        case DHTRequest::PROVIDE: {
            auto key = content_key(request);
            if (!key) {
                co_await out.error("PROVIDE needs a valid CID");
                break;
            }
            auto provided = co_await net::within_deadline(dht.provide(*key), timeout);
            if (auto why = failure_text("PROVIDE", provided)) {
                co_await out.error(std::move(*why));
                break;
            }
            co_await out.ok();
            break;
        }
        case DHTRequest::FIND_PEERS_CONNECTED_TO_PEER:
        default:
            co_await out.error("DHT request type " + std::to_string(request.type()) +
                               " is not supported by keel p2pd");
            break;
    }
    co_return out.answer;
}

}  // namespace keel::p2pd
