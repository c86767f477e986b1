// The SQLite store: round trips, upserts, expiry, acknowledged writes, reopen, damaged rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "keel/base/hex.hpp"
#include "keel/store/store.hpp"
#include "store_test_util.hpp"

namespace keel::store {
namespace {

using test::addr;
using test::peer;
using test::RawDb;
using test::TempDir;

std::unique_ptr<Store> open_store(const TempDir& dir) {
    std::string why;
    auto s = Store::open(dir.db(), &why);
    EXPECT_TRUE(s) << why;
    return s ? std::move(*s) : nullptr;
}

std::map<PeerId, StoredPeer> by_id(std::vector<StoredPeer> peers) {
    std::map<PeerId, StoredPeer> out;
    for (auto& p : peers) out.emplace(p.id, std::move(p));
    return out;
}

std::map<std::pair<Bytes, PeerId>, StoredProvider> by_key(std::vector<StoredProvider> ps) {
    std::map<std::pair<Bytes, PeerId>, StoredProvider> out;
    for (auto& p : ps) out.emplace(std::make_pair(p.key, p.provider), std::move(p));
    return out;
}

std::map<Bytes, StoredRecord> by_key(std::vector<StoredRecord> rs) {
    std::map<Bytes, StoredRecord> out;
    for (auto& r : rs) out.emplace(r.key, std::move(r));
    return out;
}

std::string hex_literal(BytesView b) {
    return "x'" + to_hex(b) + "'";
}

TEST(StoreErrc, NamedCategory) {
    const boost::system::error_code ec = store_errc::write_failed;
    EXPECT_STREQ(ec.category().name(), "keel.store");
    EXPECT_EQ(ec.message(), "store write did not commit");
    EXPECT_EQ(ec, make_error_code(store_errc::write_failed));
}

TEST(Store, CreatesVersionedSchemaInWalMode) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    EXPECT_TRUE(store->load_peers().empty());
    EXPECT_TRUE(store->load_providers(0).empty());
    EXPECT_TRUE(store->load_records().empty());
    EXPECT_EQ(store->queued(), 0u);

    RawDb raw(dir.db());
    EXPECT_EQ(raw.scalar("PRAGMA user_version"), 1);
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
}

TEST(Store, PeersRoundTrip) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    const std::vector<StoredPeer> peers = {
        {peer(1), {addr("/ip4/127.0.0.1/tcp/4001"), addr("/ip6/::1/tcp/4001")}, 1000, true},
        {peer(2), {}, 2000, false},
        {peer(3),
         {addr("/dns4/bootstrap.example.com/tcp/4001/p2p/" + peer(3).to_base58()),
          addr("/ip4/10.1.2.3/udp/4001/quic-v1")},
         -5,
         true},
    };
    for (const auto& p : peers) store->save_peer(p);
    store->flush();
    EXPECT_EQ(store->queued(), 0u);

    const auto loaded = by_id(store->load_peers());
    ASSERT_EQ(loaded.size(), peers.size());
    for (const auto& p : peers) {
        SCOPED_TRACE(p.id.to_base58());
        const auto it = loaded.find(p.id);
        ASSERT_NE(it, loaded.end());
        EXPECT_EQ(it->second.addrs, p.addrs);
        EXPECT_EQ(it->second.last_seen_ms, p.last_seen_ms);
        EXPECT_EQ(it->second.in_routing_table, p.in_routing_table);
    }
}

TEST(Store, PeerUpsertAndRemove) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    store->save_peer({peer(1), {addr("/ip4/1.1.1.1/tcp/1")}, 10, true});
    store->save_peer({peer(2), {addr("/ip4/2.2.2.2/tcp/2")}, 20, true});
    store->save_peer({peer(1), {addr("/ip4/9.9.9.9/tcp/9")}, 11, false});  // replaces
    store->remove_peer(peer(2));
    store->remove_peer(peer(7));  // absent: a no-op
    store->flush();

    const auto loaded = store->load_peers();
    ASSERT_EQ(loaded.size(), 1u);
    EXPECT_EQ(loaded[0].id, peer(1));
    EXPECT_EQ(loaded[0].addrs, std::vector<Multiaddr>{addr("/ip4/9.9.9.9/tcp/9")});
    EXPECT_EQ(loaded[0].last_seen_ms, 11);
    EXPECT_FALSE(loaded[0].in_routing_table);
}

TEST(Store, ProvidersRoundTripUpsertAndRemove) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    const Bytes k1 = to_bytes("key-one"), k2 = to_bytes("key-two");
    store->save_provider({k1, peer(1), {addr("/ip4/1.1.1.1/tcp/1")}, 1000});
    store->save_provider({k1, peer(2), {}, 1000});
    store->save_provider({k2, peer(1), {addr("/ip4/3.3.3.3/tcp/3")}, 1000});
    store->save_provider({Bytes{}, peer(3), {}, 1000});  // an empty key is still a key
    // Same (key, provider): replaces addresses and expiry.
    store->save_provider({k1, peer(1), {addr("/ip4/4.4.4.4/tcp/4")}, 5000});
    store->flush();

    auto loaded = by_key(store->load_providers(0));
    ASSERT_EQ(loaded.size(), 4u);
    const auto& p = loaded.at({k1, peer(1)});
    EXPECT_EQ(p.addrs, std::vector<Multiaddr>{addr("/ip4/4.4.4.4/tcp/4")});
    EXPECT_EQ(p.expires_ms, 5000);
    EXPECT_TRUE(loaded.at({k1, peer(2)}).addrs.empty());
    EXPECT_EQ(loaded.at({k2, peer(1)}).addrs, std::vector<Multiaddr>{addr("/ip4/3.3.3.3/tcp/3")});
    EXPECT_TRUE(loaded.count({Bytes{}, peer(3)}));

    store->remove_provider(k1, peer(1));
    store->remove_provider(k2, peer(2));  // absent
    store->flush();
    loaded = by_key(store->load_providers(0));
    EXPECT_EQ(loaded.size(), 3u);
    EXPECT_FALSE(loaded.count({k1, peer(1)}));
    EXPECT_TRUE(loaded.count({k2, peer(1)}));
}

TEST(Store, ExpiredProvidersSkippedAndRemoved) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    const Bytes key = to_bytes("k");
    store->save_provider({key, peer(1), {}, 100});
    store->save_provider({key, peer(2), {}, 200});
    store->save_provider({key, peer(3), {}, 300});
    store->flush();

    EXPECT_EQ(store->load_providers(50).size(), 3u);
    // expires_ms == now counts as expired.
    auto live = store->load_providers(200);
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(live[0].provider, peer(3));

    store->remove_expired_providers(150);
    store->flush();
    const auto left = by_key(store->load_providers(0));
    EXPECT_EQ(left.size(), 2u);
    EXPECT_FALSE(left.count({key, peer(1)}));
    RawDb raw(dir.db());
    EXPECT_EQ(raw.scalar("SELECT count(*) FROM providers"), 2);
}

TEST(Store, RecordsRoundTripAndUpsert) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    Bytes binary(300);
    for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<std::uint8_t>(i);
    store->save_record({to_bytes("/pk/a"), to_bytes("first"), 1});
    store->save_record({to_bytes("/pk/b"), binary, 2});
    store->save_record({to_bytes("/pk/c"), Bytes{}, 3});
    store->save_record({to_bytes("/pk/a"), to_bytes("second"), 4});
    store->flush();

    const auto loaded = by_key(store->load_records());
    ASSERT_EQ(loaded.size(), 3u);
    EXPECT_EQ(loaded.at(to_bytes("/pk/a")).value, to_bytes("second"));
    EXPECT_EQ(loaded.at(to_bytes("/pk/a")).received_ms, 4);
    EXPECT_EQ(loaded.at(to_bytes("/pk/b")).value, binary);
    EXPECT_TRUE(loaded.at(to_bytes("/pk/c")).value.empty());
}

// `done` runs on the writer thread once the row is committed: another connection sees it from
// inside the callback.
TEST(Store, DoneCalledAfterCommitOnWriterThread) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    RawDb raw(dir.db());
    ASSERT_TRUE(raw.get());

    std::mutex mu;
    std::vector<std::string> seen;
    std::atomic<int> calls{0};
    const auto test_thread = std::this_thread::get_id();
    auto check = [&](const std::string& what, const std::string& count_sql) {
        return [&, what, count_sql](boost::system::error_code ec) {
            std::lock_guard lk(mu);
            EXPECT_FALSE(ec) << ec.message();
            EXPECT_NE(std::this_thread::get_id(), test_thread);
            EXPECT_EQ(raw.scalar(count_sql), 1) << what;
            seen.push_back(what);
            ++calls;
        };
    };
    const Bytes key = to_bytes("acked");
    store->save_provider(
        {key, peer(1), {addr("/ip4/1.2.3.4/tcp/5")}, 1000},
        check("provider", "SELECT count(*) FROM providers WHERE key = " + hex_literal(key)));
    store->save_record({key, to_bytes("v"), 1},
                       check("record", "SELECT count(*) FROM records WHERE key = " +
                                           hex_literal(key) + " AND value = x'76'"));
    store->flush();  // returns after the callbacks ran
    EXPECT_EQ(calls.load(), 2);
    std::lock_guard lk(mu);
    EXPECT_EQ(seen, (std::vector<std::string>{"provider", "record"}));
}

TEST(Store, ManyWritesAreBatchedAndAllAcknowledged) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    constexpr int n = 2000;  // several batches of max_batch
    std::atomic<int> acked{0};
    for (int i = 0; i < n; ++i) {
        store->save_peer({peer(static_cast<std::uint8_t>(i % 50)), {}, i, false});
        store->save_record({to_bytes("r" + std::to_string(i)), to_bytes("v"), i},
                           [&](boost::system::error_code ec) {
                               if (!ec) ++acked;
                           });
    }
    store->flush();
    EXPECT_EQ(acked.load(), n);
    EXPECT_EQ(store->queued(), 0u);
    EXPECT_EQ(store->load_records().size(), static_cast<std::size_t>(n));
    const auto peers = by_id(store->load_peers());
    ASSERT_EQ(peers.size(), 50u);
    // The last write per peer wins: writes apply in queue order.
    EXPECT_EQ(peers.at(peer(49)).last_seen_ms, n - 1);
}

// Writers on several threads, each flushing as it goes: flush() returns only once that
// thread's writes (and everything queued before them) are in, and its callbacks have run.
TEST(Store, ConcurrentWritersAndFlush) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    constexpr int threads = 4, per_thread = 300;
    std::atomic<int> acked{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::atomic<int> mine{0};  // outlives every callback: the thread flushes last
            for (int i = 0; i < per_thread; ++i) {
                store->save_record(
                    {to_bytes(std::to_string(t) + "/" + std::to_string(i)), to_bytes("v"), i},
                    [&](boost::system::error_code ec) {
                        if (!ec) ++acked;
                        ++mine;
                    });
                if (i % 50 == 49) {
                    store->flush();
                    EXPECT_EQ(mine.load(), i + 1);
                }
            }
        });
    }
    for (auto& w : workers) w.join();
    EXPECT_EQ(acked.load(), threads * per_thread);
    EXPECT_EQ(store->load_records().size(), static_cast<std::size_t>(threads * per_thread));
}

TEST(Store, ReopenAfterDestructionSeesEverything) {
    TempDir dir;
    const Bytes key = to_bytes("k");
    {
        auto store = open_store(dir);
        ASSERT_TRUE(store);
        store->save_peer({peer(1), {addr("/ip4/1.1.1.1/tcp/1")}, 7, true});
        store->save_provider({key, peer(2), {addr("/ip4/2.2.2.2/tcp/2")}, 99});
        store->save_record({key, to_bytes("value"), 5});
        // No flush: the destructor commits what is queued.
    }
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    const auto peers = store->load_peers();
    ASSERT_EQ(peers.size(), 1u);
    EXPECT_EQ(peers[0].id, peer(1));
    EXPECT_TRUE(peers[0].in_routing_table);
    const auto providers = store->load_providers(0);
    ASSERT_EQ(providers.size(), 1u);
    EXPECT_EQ(providers[0].provider, peer(2));
    EXPECT_EQ(providers[0].addrs, std::vector<Multiaddr>{addr("/ip4/2.2.2.2/tcp/2")});
    const auto records = store->load_records();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].value, to_bytes("value"));
}

TEST(Store, DamagedRowsAreSkipped) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    store->save_peer({peer(1), {addr("/ip4/1.1.1.1/tcp/1")}, 1, true});
    store->save_provider({to_bytes("k"), peer(1), {addr("/ip4/1.1.1.1/tcp/1")}, 1000});
    store->flush();

    const std::string good = hex_literal(Bytes{0x08, 0x04, 1, 1, 1, 1, 0x06, 0x00, 0x01});
    const std::vector<std::string> bad_blobs = {
        "x'80'",              // truncated length varint
        "x'0a0401020304'",    // length 10, 5 bytes left
        "x'02ffff'",          // not a multiaddr
        "x'8108'",            // length 1025: beyond Multiaddr::max_bytes
        "x'06040101010106'",  // ip4 then a tcp code with its port missing
    };
    RawDb raw(dir.db());
    ASSERT_TRUE(raw.get());
    std::uint8_t n = 10;
    for (const auto& blob : bad_blobs) {
        SCOPED_TRACE(blob);
        const std::string id = hex_literal(peer(n++).bytes());
        ASSERT_TRUE(raw.exec("INSERT INTO peers VALUES (" + id + ", " + blob + ", 1, 1)"));
        ASSERT_TRUE(
            raw.exec("INSERT INTO providers VALUES (x'6b', " + id + ", " + blob + ", 1000)"));
    }
    // A good address blob under a peer ID that is not a multihash.
    ASSERT_TRUE(raw.exec("INSERT INTO peers VALUES (x'0102', " + good + ", 1, 1)"));
    ASSERT_TRUE(raw.exec("INSERT INTO providers VALUES (x'6b', x'0102', " + good + ", 1000)"));
    ASSERT_EQ(raw.scalar("SELECT count(*) FROM peers"), 7);

    const auto peers = store->load_peers();
    ASSERT_EQ(peers.size(), 1u);
    EXPECT_EQ(peers[0].id, peer(1));
    const auto providers = store->load_providers(0);
    ASSERT_EQ(providers.size(), 1u);
    EXPECT_EQ(providers[0].provider, peer(1));
}

// A write that cannot commit reports write_failed to its own `done` only: the batch is retried
// one operation at a time, so its neighbours still commit.
TEST(Store, FailedWriteReportedWithoutFailingNeighbours) {
    TempDir dir;
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    {
        RawDb raw(dir.db());
        ASSERT_TRUE(raw.exec("DROP TABLE records"));
    }
    std::mutex mu;
    std::vector<boost::system::error_code> results;
    auto record = [&](boost::system::error_code ec) {
        std::lock_guard lk(mu);
        results.push_back(ec);
    };
    store->save_provider({to_bytes("k"), peer(1), {}, 1000}, record);
    store->save_record({to_bytes("k"), to_bytes("v"), 1}, record);
    store->save_peer({peer(2), {}, 1, false});
    store->flush();

    std::lock_guard lk(mu);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_FALSE(results[0]);
    EXPECT_EQ(results[1], make_error_code(store_errc::write_failed));
    EXPECT_EQ(store->load_providers(0).size(), 1u);
    EXPECT_EQ(store->load_peers().size(), 1u);
}

TEST(Store, RefusesNewerSchema) {
    TempDir dir;
    {
        auto store = open_store(dir);
        ASSERT_TRUE(store);
    }
    {
        RawDb raw(dir.db());
        ASSERT_TRUE(raw.exec("PRAGMA user_version=99"));
    }
    std::string why;
    auto store = Store::open(dir.db(), &why);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error(), make_error_code(store_errc::schema_failed));
    EXPECT_NE(why.find("99"), std::string::npos) << why;
}

TEST(Store, OpenFailures) {
    TempDir dir;
    {
        std::ofstream f(dir.db(), std::ios::binary);
        f << std::string(4096, 'x');  // not a database
    }
    auto garbage = Store::open(dir.db());
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error(), make_error_code(store_errc::open_failed));

    std::string why;
    auto missing = Store::open(dir.path() / "no-such-dir" / "keel.db", &why);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), make_error_code(store_errc::open_failed));
    EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace keel::store
