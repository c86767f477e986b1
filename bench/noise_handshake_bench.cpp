// The libp2p Noise XX handshake: what a whole handshake costs (BM_FullHandshake), what its
// cryptography alone costs (BM_CryptoOnly), and the transport cipher's throughput
// (BM_NoiseTransport). The custom main prints "handshake: full X us, crypto-only Y us, ratio Z"
// after the table (CPU time per handshake): the ratio says how much a whole handshake costs over
// its cryptography alone, i.e. the overhead of coroutines, framing, protobuf and allocation.
#include <sodium.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <keel/proto/noise.pb.h>
#include <boost/asio/io_context.hpp>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/noise_session.hpp"
#include "keel/net/yamux_session.hpp"
#include "keel/noise/cipher_state.hpp"

namespace {

using namespace keel;
namespace asio = boost::asio;

const std::vector<std::string>& muxers() {
    static const std::vector<std::string> m{std::string(net::yamux_protocol_id)};
    return m;
}

// ---------------------------------------------------------------------------------------------
// (a) Both sides of net::noise_secure over a memory pair, on one io_context reused across
// iterations. Identities are made once; per handshake each side still generates its Noise static
// and ephemeral keys, signs, verifies, and builds and parses the protobuf payload, as a real
// connection does. The initiator checks the expected peer ID, as a dial does.
void BM_FullHandshake(benchmark::State& state) {
    static const auto alice = Ed25519KeyPair::generate();
    static const auto bob = Ed25519KeyPair::generate();
    const std::optional<PeerId> expect_bob = PeerId::from_public_key(bob.public_key());
    const std::optional<PeerId> none;
    asio::io_context io;
    for (auto _ : state) {
        auto pair = net::make_memory_stream_pair(io.get_executor());
        bool initiator_ok = false;
        bool responder_ok = false;
        asio::co_spawn(io,
                       net::noise_secure(std::move(pair.first), noise::Role::initiator, alice,
                                         muxers(), expect_bob),
                       [&](std::exception_ptr e, net::result<net::SecuredConnection> r) {
                           initiator_ok = !e && r && r->remote_peer == *expect_bob;
                       });
        asio::co_spawn(
            io,
            net::noise_secure(std::move(pair.second), noise::Role::responder, bob, muxers(), none),
            [&](std::exception_ptr e, net::result<net::SecuredConnection> r) {
                responder_ok = !e && r.has_value();
            });
        io.restart();
        io.run();
        if (!initiator_ok || !responder_ok) {
            state.SkipWithError("handshake failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());  // handshakes per second
}
BENCHMARK(BM_FullHandshake)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// (b) Exactly the cryptography of one handshake, both sides, straight on libsodium: a minimal
// Noise_XX_25519_ChaChaPoly_SHA256 that mirrors src/keel/noise/{handshake_state,symmetric_state,
// cipher_state,key_pair}.cpp and net/noise_session.cpp operation for operation. Counted there:
//
//   per side                                   initiator  responder   both
//   X25519 keygen (scalarmult_base; static, e)      2          2        4
//   X25519 DH (ee, es, se)                          3          3        6
//   Ed25519 sign (prefix || static key, 56 B)       1          1        2
//   Ed25519 verify                                  1          1        2
//   ChaChaPoly encrypt, ad = h (32 B):              2          2        4
//       s (32 B) and the payload (P B)
//   ChaChaPoly decrypt (the peer's s and payload)   2          2        4
//   SHA-256 (MixHash: prologue 1, msg1 2 [e and     8          8       16
//       the keyless empty payload], msg2 3, msg3 2)
//   HMAC-SHA256 (HKDF, 3 per MixKey x 3 DH,        12         12       24
//       3 for Split)
//   randombytes (32 B per X25519 private key)       2          2        4
//
// The protocol name is exactly 32 bytes, so InitializeSymmetric copies it without hashing. The
// first message's payload is empty and keyless: no AEAD call, only MixHash. The peer ID of an
// Ed25519 key is an identity multihash (no hashing). P is the size of the real protobuf payload
// (identity key, signature, stream_muxers ["/yamux/1.0.0"]), 120 bytes; the payload bytes are not
// parsed here, only encrypted, decrypted and their signature verified.
constexpr std::string_view protocol_name = "Noise_XX_25519_ChaChaPoly_SHA256";
constexpr std::string_view sig_prefix = "noise-libp2p-static-key:";
using Key = std::array<std::uint8_t, 32>;

struct Sym {
    Key h{};
    Key ck{};
    Key k{};
    std::uint64_t n = 0;
    bool has_k = false;

    Sym() {
        static_assert(protocol_name.size() == 32);
        std::memcpy(h.data(), protocol_name.data(), 32);
        ck = h;
        mix_hash(nullptr, 0);  // empty prologue
    }
    void mix_hash(const std::uint8_t* data, std::size_t len) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, h.data(), h.size());
        crypto_hash_sha256_update(&st, data, len);
        crypto_hash_sha256_final(&st, h.data());
    }
    static Key hmac(const Key& key, const std::uint8_t* a, std::size_t alen,
                    const std::uint8_t* b = nullptr, std::size_t blen = 0) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key.data(), key.size());
        crypto_auth_hmacsha256_update(&st, a, alen);
        crypto_auth_hmacsha256_update(&st, b, blen);
        Key out;
        crypto_auth_hmacsha256_final(&st, out.data());
        return out;
    }
    static void hkdf2(const Key& chaining_key, const std::uint8_t* ikm, std::size_t len, Key& o1,
                      Key& o2) {
        static constexpr std::uint8_t one[] = {0x01};
        static constexpr std::uint8_t two[] = {0x02};
        Key temp = hmac(chaining_key, ikm, len);
        o1 = hmac(temp, one, 1);
        o2 = hmac(temp, o1.data(), o1.size(), two, 1);
    }
    void mix_key(const Key& ikm) {
        Key temp_k;
        hkdf2(ck, ikm.data(), ikm.size(), ck, temp_k);
        k = temp_k;
        n = 0;
        has_k = true;
    }
    std::array<std::uint8_t, 12> nonce() const {
        std::array<std::uint8_t, 12> out{};
        for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
        return out;
    }
    // Appends the ciphertext of `len` bytes to `out`.
    void encrypt_and_hash(const std::uint8_t* pt, std::size_t len, std::vector<std::uint8_t>& out) {
        std::size_t at = out.size();
        if (!has_k) {
            out.insert(out.end(), pt, pt + len);
        } else {
            out.resize(at + len + crypto_aead_chacha20poly1305_ietf_ABYTES);
            auto iv = nonce();
            unsigned long long written = 0;
            crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + at, &written, pt, len, h.data(),
                                                      h.size(), nullptr, iv.data(), k.data());
            ++n;
        }
        mix_hash(out.data() + at, out.size() - at);
    }
    bool decrypt_and_hash(const std::uint8_t* ct, std::size_t len, std::uint8_t* out) {
        if (has_k) {
            auto iv = nonce();
            unsigned long long written = 0;
            if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &written, nullptr, ct, len, h.data(),
                                                          h.size(), iv.data(), k.data()) != 0)
                return false;
            ++n;
        } else {
            std::memcpy(out, ct, len);
        }
        mix_hash(ct, len);
        return true;
    }
    std::pair<Key, Key> split() const {
        Key k1, k2;
        hkdf2(ck, nullptr, 0, k1, k2);
        return {k1, k2};
    }
};

struct X25519 {
    Key priv;
    Key pub;
    static X25519 generate() {
        X25519 kp;
        randombytes_buf(kp.priv.data(), kp.priv.size());
        crypto_scalarmult_curve25519_base(kp.pub.data(), kp.priv.data());
        return kp;
    }
};

// Like noise::dh, including its all-zero check; a failure leaves a zero key, which makes the two
// sides' final keys disagree and the benchmark report an error.
Key dh(const X25519& local, const Key& remote) {
    Key shared;
    if (crypto_scalarmult_curve25519(shared.data(), local.priv.data(), remote.data()) != 0 ||
        sodium_is_zero(shared.data(), shared.size()))
        shared.fill(0);
    return shared;
}

struct Identity {
    std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pub;
    std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> secret;
    Identity() { crypto_sign_keypair(pub.data(), secret.data()); }
};

// The real payload's size, built once with the same protobuf as noise_session.cpp.
std::size_t payload_size() {
    auto id = Ed25519KeyPair::generate();
    pb::NoiseHandshakePayload payload;
    auto key = id.public_key().marshal();
    payload.set_identity_key(key.data(), key.size());
    std::string sig(64, '\0');
    payload.set_identity_sig(sig);
    for (const auto& m : muxers()) payload.mutable_extensions()->add_stream_muxers(m);
    return payload.SerializeAsString().size();
}

// The signature goes at the start of the payload bytes; the rest is filler of the real size.
std::vector<std::uint8_t> signed_payload(const Identity& id, const Key& static_pub,
                                         std::size_t size) {
    std::array<std::uint8_t, sig_prefix.size() + 32> msg{};
    std::memcpy(msg.data(), sig_prefix.data(), sig_prefix.size());
    std::memcpy(msg.data() + sig_prefix.size(), static_pub.data(), 32);
    std::vector<std::uint8_t> payload(size, 0x42);
    crypto_sign_detached(payload.data(), nullptr, msg.data(), msg.size(), id.secret.data());
    return payload;
}

bool verify_payload(const std::uint8_t* payload, const Identity& id, const Key& static_pub) {
    std::array<std::uint8_t, sig_prefix.size() + 32> msg{};
    std::memcpy(msg.data(), sig_prefix.data(), sig_prefix.size());
    std::memcpy(msg.data() + sig_prefix.size(), static_pub.data(), 32);
    return crypto_sign_verify_detached(payload, msg.data(), msg.size(), id.pub.data()) == 0;
}

// One XX handshake, both sides; true when both ends agree on the transport keys.
bool crypto_only_handshake(const Identity& alice, const Identity& bob, std::size_t psize) {
    constexpr std::size_t tag = crypto_aead_chacha20poly1305_ietf_ABYTES;
    // Both sides: static key, payload signature (noise_secure does this before message 1).
    Sym a, b;
    X25519 a_s = X25519::generate();
    X25519 b_s = X25519::generate();
    auto a_payload = signed_payload(alice, a_s.pub, psize);
    auto b_payload = signed_payload(bob, b_s.pub, psize);
    std::vector<std::uint8_t> wire;
    wire.reserve(32 + 48 + psize + tag);
    std::vector<std::uint8_t> plain(psize);
    Key rs;

    // -> e
    X25519 a_e = X25519::generate();
    wire.assign(a_e.pub.begin(), a_e.pub.end());
    a.mix_hash(a_e.pub.data(), 32);
    a.encrypt_and_hash(nullptr, 0, wire);
    Key a_e_remote;  // as B received it
    std::memcpy(a_e_remote.data(), wire.data(), 32);
    b.mix_hash(a_e_remote.data(), 32);
    if (!b.decrypt_and_hash(wire.data() + 32, 0, plain.data())) return false;

    // <- e, ee, s, es
    X25519 b_e = X25519::generate();
    wire.assign(b_e.pub.begin(), b_e.pub.end());
    b.mix_hash(b_e.pub.data(), 32);
    b.mix_key(dh(b_e, a_e_remote));
    b.encrypt_and_hash(b_s.pub.data(), 32, wire);
    b.mix_key(dh(b_s, a_e_remote));
    b.encrypt_and_hash(b_payload.data(), b_payload.size(), wire);

    Key b_e_remote;
    std::memcpy(b_e_remote.data(), wire.data(), 32);
    a.mix_hash(b_e_remote.data(), 32);
    a.mix_key(dh(a_e, b_e_remote));
    if (!a.decrypt_and_hash(wire.data() + 32, 32 + tag, rs.data())) return false;
    a.mix_key(dh(a_e, rs));
    if (!a.decrypt_and_hash(wire.data() + 32 + 32 + tag, psize + tag, plain.data())) return false;
    if (!verify_payload(plain.data(), bob, rs)) return false;

    // -> s, se
    wire.clear();
    a.encrypt_and_hash(a_s.pub.data(), 32, wire);
    a.mix_key(dh(a_s, b_e_remote));
    a.encrypt_and_hash(a_payload.data(), a_payload.size(), wire);

    if (!b.decrypt_and_hash(wire.data(), 32 + tag, rs.data())) return false;
    b.mix_key(dh(b_e, rs));
    if (!b.decrypt_and_hash(wire.data() + 32 + tag, psize + tag, plain.data())) return false;
    if (!verify_payload(plain.data(), alice, rs)) return false;

    return a.split() == b.split();
}

void BM_CryptoOnly(benchmark::State& state) {
    if (sodium_init() < 0) {
        state.SkipWithError("sodium_init failed");
        return;
    }
    static const Identity alice;
    static const Identity bob;
    static const std::size_t psize = payload_size();
    if (!crypto_only_handshake(alice, bob, psize)) {
        state.SkipWithError("crypto-only handshake does not agree on keys");
        return;
    }
    for (auto _ : state) {
        bool ok = crypto_only_handshake(alice, bob, psize);
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel("payload " + std::to_string(psize) + " B");
}
BENCHMARK(BM_CryptoOnly)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// (c) The transport cipher: encrypt then decrypt one full Noise frame, 65519 plaintext bytes into
// the 65535-byte maximum frame (the "64 KiB" frame NoiseStream writes for bulk data).
void BM_NoiseTransport(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    noise::Key key{};
    randombytes_buf(key.data(), key.size());
    noise::CipherState sender(key);
    noise::CipherState receiver(key);
    std::vector<std::uint8_t> plaintext(size, 0x5a);
    std::vector<std::uint8_t> frame(size + noise::tag_size);
    std::vector<std::uint8_t> decrypted(size);
    for (auto _ : state) {
        auto n = sender.encrypt(plaintext, frame);
        auto m = receiver.decrypt(std::span(frame.data(), n ? *n : 0), decrypted);
        if (!n || !m || *m != size) {
            state.SkipWithError("transport cipher failed");
            break;
        }
        benchmark::DoNotOptimize(decrypted.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(size));
}
BENCHMARK(BM_NoiseTransport)
    ->Arg(static_cast<std::int64_t>(net::noise_max_plaintext))
    ->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// Console output as usual, and the CPU time per iteration of the two handshake benchmarks kept
// for the summary line (the mean when --benchmark_repetitions is used). CPU time, not real time:
// everything runs on this one thread without waiting (memory streams), so CPU time is the cost,
// while real time also counts whatever else the machine was doing.
class SummaryReporter : public benchmark::ConsoleReporter {
  public:
    using ConsoleReporter::ConsoleReporter;

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& run : runs) {
            if (run.error_occurred) continue;
            bool mean = run.run_type == Run::RT_Aggregate && run.aggregate_name == "mean";
            bool single = run.run_type == Run::RT_Iteration;
            if (!mean && !single) continue;
            double us =
                run.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(run.time_unit) * 1e6;
            std::string name = run.run_name.function_name;
            if (name == "BM_FullHandshake") keep(full_, full_is_mean_, us, mean);
            if (name == "BM_CryptoOnly") keep(crypto_, crypto_is_mean_, us, mean);
        }
        ConsoleReporter::ReportRuns(runs);
    }

    // Prints the summary line; false if either benchmark did not run.
    bool print_summary() const {
        if (!full_ || !crypto_ || *crypto_ <= 0) {
            std::printf("handshake: summary needs both BM_FullHandshake and BM_CryptoOnly\n");
            return false;
        }
        std::printf("handshake: full %.1f us, crypto-only %.1f us, ratio %.2f\n", *full_, *crypto_,
                    *full_ / *crypto_);
        return true;
    }

  private:
    static void keep(std::optional<double>& slot, bool& slot_is_mean, double us, bool mean) {
        if (mean || !slot_is_mean) {
            slot = us;
            slot_is_mean = mean;
        }
    }
    std::optional<double> full_;
    std::optional<double> crypto_;
    bool full_is_mean_ = false;
    bool crypto_is_mean_ = false;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    SummaryReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                   : benchmark::ConsoleReporter::OO_Tabular);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    std::fflush(stdout);
    reporter.print_summary();
    benchmark::Shutdown();
    return 0;
}
