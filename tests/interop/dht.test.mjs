// Kademlia DHT interop: Keel (`keel bootstrap`, `keel node --dht-server`, `keel dht ...`) and
// js-libp2p's @libp2p/kad-dht, both as bootstrap and as client, provider records, FIND_NODE and
// /pk/ records both ways, and the chiral profile (/chiral/kad/1.0.0) kept apart from /ipfs/kad.
// KEEL_BINARY is the keel binary (ctest sets it). Run: ./run-node.sh --test dht.test.mjs
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, describe, it } from 'node:test'
import { publicKeyToProtobuf, generateKeyPair } from '@libp2p/crypto/keys'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createJsPeer, loopbackAddrs, multiaddr, waitFor, withDeadline } from './lib/js-peer.mjs'
import { killAll, nextJson, runKeelDht, startKeelNode } from './lib/keel-process.mjs'

const IPFS_KAD = '/ipfs/kad/1.0.0'
const CHIRAL_KAD = '/chiral/kad/1.0.0'
const CHIRAL_VERSION = '/chiral/id/1.0.0'
const KEEL_DHT_TIMEOUT = ['--timeout', '15s']

// TIMING=1 prints how long each keel dht run and js operation took (stderr)
const timing = (what, t0) => { if (process.env.TIMING) console.error(`TIMING ${what}: ${Date.now() - t0} ms`) }
const decode = (b) => b == null ? undefined : new TextDecoder().decode(b)
const hex = (b) => Buffer.from(b).toString('hex')
const stripP2p = (a) => a.replace(/\/p2p\/[^/]+$/, '')

// Every js node, keel process and temp dir a test creates is released after it, pass or fail.
const cleanups = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await withDeadline(fn(), 10_000, 'cleanup').catch(() => {})
})
after(killAll)

/** `keel bootstrap` or `keel node` with its own data dir; waits for the listening line. */
async function startKeel (command, args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-dht-interop-'))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  const keel = await startKeelNode({ command, args: ['--data-dir', dir, ...args] })
  cleanups.push(() => keel.stop())
  return keel
}

/** The next JSON line of a running keel with `event === name`, within `ms`. */
async function keelEvent (keel, name, ms = 20_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const ev = await nextJson(keel.proc, Math.max(1, deadline - Date.now()), `event ${name}`)
    if (ev.event === name) return ev
  }
}

/** `keel dht OP ...args` against `bootstrap`; asserts it exited and printed one JSON object. */
async function keelDht (op, args, bootstrap, { profile, ms = 25_000 } = {}) {
  const extra = [...KEEL_DHT_TIMEOUT, ...(profile != null ? ['--profile', profile] : [])]
  const t0 = Date.now()
  const r = await runKeelDht(op, args, { bootstrap, extra, ms })
  timing(`keel dht ${op} ${JSON.stringify(r.result)}`, t0)
  assert.ok(r.result != null, `keel dht ${op} ${args.join(' ')}: no JSON (exit ${r.code}); stdout:\n${r.stdout}\nstderr:\n${r.stderr}`)
  r.what = `keel dht ${op} ${args.join(' ')} -> ${JSON.stringify(r.result)} (exit ${r.code}); stderr:\n${r.stderr}`
  return r
}

/**
 * A js-libp2p DHT node: kadDHT on `protocol`, server unless `clientMode`, 127.0.0.1 addresses kept
 * (passthroughMapper), and for the chiral profile identify protocolVersion /chiral/id/1.0.0.
 */
async function createDhtPeer ({ protocol = IPFS_KAD, clientMode = false, chiral = false } = {}) {
  const node = await createJsPeer({
    services: { dht: kadDHT({ protocol, clientMode, peerInfoMapper: passthroughMapper }) },
    identifyProtocolVersion: chiral ? CHIRAL_VERSION : undefined
  })
  cleanups.push(() => node.stop())
  return node
}

/** Resolves once `peerId` (string) is in js `node`'s DHT routing table. */
function inTable (node, peerId, what = `${peerId} in the js routing table`) {
  const id = peerIdFromString(peerId)
  return waitFor(async () => (await node.services.dht.routingTable.find(id)) != null, { ms: 15_000, what })
}

/** js dials a peer and waits until it is in js's routing table (identify + ping done). */
async function joinDht (node, addr, peerId) {
  const t0 = Date.now()
  await withDeadline(node.dial(multiaddr(addr)), 10_000, `js dial ${addr}`)
  await inTable(node, peerId, `${peerId} in the routing table of js ${node.peerId}`)
  timing(`join ${peerId}`, t0)
}

/** Runs a DHT query (`start(signal)` returns its event generator) until `pred(event)`. */
async function findEvent (start, pred, { ms = 20_000, what = 'DHT event' } = {}) {
  const controller = new AbortController()
  const names = []
  const run = (async () => {
    for await (const ev of start(controller.signal)) {
      names.push(`${ev.name}${ev.messageName != null ? `/${ev.messageName}` : ''}`)
      if (pred(ev)) return ev
    }
    return null
  })()
  run.catch(() => {})
  try {
    const ev = await withDeadline(run, ms, what)
    if (ev == null) throw new Error(`${what}: the query ended without it; events: ${names.join(' ')}`)
    return ev
  } finally {
    controller.abort()
  }
}

/** All events of a DHT operation (provide, put), bounded by `ms`. */
async function allEvents (start, { ms = 20_000, what = 'DHT operation' } = {}) {
  const t0 = Date.now()
  const signal = AbortSignal.timeout(ms)
  const events = []
  await withDeadline((async () => { for await (const ev of start(signal)) events.push(ev) })(), ms + 1000, what)
  timing(what, t0)
  return events
}

// Keel's answer to a GET_PROVIDERS: the PEER_RESPONSE event (js's PROVIDER events leave out
// providers it already knows, e.g. from its own store), with `pred` true for a provider in it.
const providersFrom = (from, pred) => e =>
  e.name === 'PEER_RESPONSE' && e.messageName === 'GET_PROVIDERS' && e.from.toString() === from && e.providers.some(pred)

const responded = (events, type, from) =>
  events.some(e => e.name === 'PEER_RESPONSE' && e.messageName === type && e.from.toString() === from)

async function randomCid () {
  return CID.createV1(raw.code, await sha256.digest(crypto.getRandomValues(new Uint8Array(32))))
}

/** A fresh Ed25519 identity for /pk/ records: peer id, DHT key /pk/<multihash>, protobuf key. */
async function pkRecordFor () {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key)
  const prefix = new TextEncoder().encode('/pk/')
  const mh = peerId.toMultihash().bytes
  const dhtKey = new Uint8Array(prefix.length + mh.length)
  dhtKey.set(prefix)
  dhtKey.set(mh, prefix.length)
  return { peerId: peerId.toString(), dhtKey, value: publicKeyToProtobuf(key.publicKey) }
}

describe('keel bootstrap, js DHT servers', () => {
  it('js A provides a CID through Keel, js B finds A via Keel', { timeout: 60_000 }, async () => {
    const keel = await startKeel('bootstrap')
    assert.equal(keel.event.dht_mode, 'server')
    assert.equal(keel.event.kad_protocol, IPFS_KAD)
    const a = await createDhtPeer()
    const b = await createDhtPeer()
    await joinDht(a, keel.addr, keel.peerId)
    await joinDht(b, keel.addr, keel.peerId)

    const cid = await randomCid()
    const events = await allEvents(s => a.services.dht.provide(cid, { signal: s }), { what: 'js A provide' })
    assert.ok(responded(events, 'ADD_PROVIDER', keel.peerId), `A sent no ADD_PROVIDER to keel: ${events.map(e => e.name).join(' ')}`)

    // B may hold A's record itself (A announces to B too): only Keel's answer counts
    const ev = await findEvent(s => b.services.dht.findProviders(cid, { signal: s }),
      providersFrom(keel.peerId, p => p.id.equals(a.peerId)),
      { what: `GET_PROVIDERS response from keel listing A for ${cid}` })
    const info = ev.providers.find(p => p.id.equals(a.peerId))
    // js announces its addresses with /p2p/<own id> (addressManager.getAddresses()); Keel echoes them
    const addrs = info.multiaddrs.map(a => stripP2p(String(a)))
    for (const la of loopbackAddrs(a).map(stripP2p)) assert.ok(addrs.includes(la), `keel gave A's addrs ${JSON.stringify(addrs)}, lacking ${la}`)
  })
})

describe('js bootstrap, keel clients', () => {
  it('keel dht provide / providers through a js DHT server', { timeout: 60_000 }, async () => {
    const js = await createDhtPeer()
    const jsAddr = loopbackAddrs(js)[0]
    const key = `keel-interop-${hex(crypto.getRandomValues(new Uint8Array(8)))}`

    const put = await keelDht('provide', [key], jsAddr)
    assert.equal(put.result.ok, true, put.what)
    assert.equal(put.code, 0, put.what)
    assert.ok(put.result.peers >= 1, put.what)
    // js answers the PING Keel sends after ADD_PROVIDER on the same stream
    assert.ok(put.result.acknowledged >= 1, put.what)
    const cid = CID.parse(put.result.cid)
    assert.equal(cid.code, raw.code)
    assert.ok((await js.services.dht.providers.getProviders(cid)).length >= 1, 'js stored no provider record')

    const get = await keelDht('providers', [key], jsAddr)
    assert.equal(get.result.ok, true, get.what)
    assert.equal(get.result.cid, put.result.cid, get.what)
    assert.ok(get.result.providers.length >= 1, get.what)
    // the provider is the (exited) `keel dht provide` process: a peer ID with its 127.0.0.1 address
    const p = get.result.providers[0]
    assert.ok(p.addrs.some(a => a.startsWith('/ip4/127.0.0.1/tcp/')), get.what)
  })

  it('keel node --dht-server joins a js bootstrap; js finds it, keel finds js', { timeout: 60_000 }, async () => {
    const boot = await createDhtPeer()
    const bootAddr = loopbackAddrs(boot)[0]
    // a second js server that knows only the js bootstrap
    const far = await createDhtPeer()
    await joinDht(far, bootAddr, boot.peerId.toString())
    await inTable(boot, far.peerId.toString())

    const node = await startKeel('node', ['--dht-server', '--bootstrap', bootAddr])
    assert.equal(node.event.dht_mode, 'server')
    const ev = await keelEvent(node, 'bootstrapped')
    assert.ok(ev.reached >= 1 && ev.routing_table_size >= 1, JSON.stringify(ev))
    await inTable(boot, node.peerId, 'keel node in the js bootstrap\'s routing table')

    // js client -> js bootstrap -> keel node's addresses
    const client = await createDhtPeer({ clientMode: true })
    await joinDht(client, bootAddr, boot.peerId.toString())
    const info = await withDeadline(client.peerRouting.findPeer(peerIdFromString(node.peerId), { signal: AbortSignal.timeout(15_000) }),
      16_000, 'js findPeer(keel node)')
    assert.equal(info.id.toString(), node.peerId)
    assert.ok(info.multiaddrs.map(String).includes(stripP2p(node.addr)), `findPeer addrs ${info.multiaddrs.map(String)} lack ${node.addr}`)

    // keel dht (client) -> keel node -> js bootstrap -> the far js node
    const found = await keelDht('find-peer', [far.peerId.toString()], node.addr)
    assert.equal(found.result.ok, true, found.what)
    assert.equal(found.result.peer_id, far.peerId.toString(), found.what)
    assert.ok(found.result.addrs.includes(stripP2p(loopbackAddrs(far)[0])), found.what)
  })
})

describe('keel bootstrap, js and keel providers', () => {
  it('keel finds a js provider, js finds a keel provider', { timeout: 60_000 }, async () => {
    const keel = await startKeel('bootstrap')
    const provider = await createDhtPeer()
    const finder = await createDhtPeer()
    await joinDht(provider, keel.addr, keel.peerId)
    await joinDht(finder, keel.addr, keel.peerId)

    // js provides, keel dht providers finds it
    const cid = await randomCid()
    const events = await allEvents(s => provider.services.dht.provide(cid, { signal: s }), { what: 'js provide' })
    assert.ok(responded(events, 'ADD_PROVIDER', keel.peerId), 'js sent no ADD_PROVIDER to keel')
    const got = await keelDht('providers', [cid.toString()], keel.addr)
    assert.equal(got.result.ok, true, got.what)
    assert.equal(got.result.cid, cid.toString(), got.what)
    const p = got.result.providers.find(x => x.peer_id === provider.peerId.toString())
    assert.ok(p != null, `js provider missing: ${got.what}`)
    assert.ok(p.addrs.map(stripP2p).includes(stripP2p(loopbackAddrs(provider)[0])), got.what)

    // keel dht provide, js findProviders gets it from the keel bootstrap
    const text = `keel-provided-${hex(crypto.getRandomValues(new Uint8Array(8)))}`
    const put = await keelDht('provide', [text], keel.addr)
    assert.equal(put.result.ok, true, put.what)
    assert.ok(put.result.peers >= 1, put.what)
    const keelCid = CID.parse(put.result.cid)
    const known = new Set([keel.peerId, provider.peerId.toString(), finder.peerId.toString()])
    const ev = await findEvent(s => finder.services.dht.findProviders(keelCid, { signal: s }),
      providersFrom(keel.peerId, x => !known.has(x.id.toString())),
      { what: `GET_PROVIDERS response from keel for ${keelCid}` })
    const kp = ev.providers.find(x => !known.has(x.id.toString()))
    assert.ok(kp.multiaddrs.some(a => String(a).startsWith('/ip4/127.0.0.1/tcp/')), `keel provider addrs ${kp.multiaddrs}`)
  })
})

describe('/pk/ records both ways through a keel bootstrap', () => {
  it('js put -> keel get, keel put -> js get', { timeout: 60_000 }, async () => {
    const keel = await startKeel('bootstrap')
    const j1 = await createDhtPeer()
    const j2 = await createDhtPeer()
    await joinDht(j1, keel.addr, keel.peerId)
    await joinDht(j2, keel.addr, keel.peerId)

    const x = await pkRecordFor()
    const events = await allEvents(s => j1.services.dht.put(x.dhtKey, x.value, { signal: s }), { what: 'js put /pk/' })
    assert.ok(responded(events, 'PUT_VALUE', keel.peerId), `keel did not answer js's PUT_VALUE: ${events.map(e => e.name).join(' ')}`)
    const got = await keelDht('get', [`/pk/${x.peerId}`], keel.addr)
    assert.equal(got.result.ok, true, got.what)
    assert.equal(got.result.value_hex, hex(x.value), got.what)

    const y = await pkRecordFor()
    const put = await keelDht('put', [`/pk/${y.peerId}`, hex(y.value), '--hex'], keel.addr)
    assert.equal(put.result.ok, true, put.what)
    assert.ok(put.result.peers >= 1, put.what)
    // j2 may hold a copy itself (keel's put reaches it too): keel's GET_VALUE answer must have it
    const got2 = await allEvents(s => j2.services.dht.get(y.dhtKey, { signal: s }), { what: 'js get /pk/' })
    const fromKeel = got2.find(e => e.name === 'PEER_RESPONSE' && e.messageName === 'GET_VALUE' && e.from.toString() === keel.peerId)
    assert.ok(fromKeel != null, `no GET_VALUE response from keel: ${got2.map(e => e.name).join(' ')}`)
    assert.equal(hex(fromKeel.record?.value ?? []), hex(y.value), 'record in keel\'s GET_VALUE response')
    // timeReceived is RFC 3339 (js: `new Date(timeReceived)`), set by keel when it stored the record
    const age = Date.now() - fromKeel.record.timeReceived.getTime()
    assert.ok(age >= -5_000 && age < 60_000, `keel's timeReceived parses to ${fromKeel.record.timeReceived} in js`)
    const values = got2.filter(e => e.name === 'VALUE')
    assert.ok(values.length >= 1, 'js get yielded no VALUE')
    for (const v of values) assert.equal(hex(v.value), hex(y.value))
  })
})

describe('chiral profile', () => {
  it('provide/find across keel and js on /chiral/kad/1.0.0; an /ipfs/kad node stays out', { timeout: 60_000 }, async () => {
    const keel = await startKeel('bootstrap', ['--profile', 'chiral'])
    assert.equal(keel.event.kad_protocol, CHIRAL_KAD)

    // an ipfs-kad js server connects first: identify tells Keel it lacks /chiral/kad/1.0.0
    const outsider = await createDhtPeer()
    await withDeadline(outsider.dial(multiaddr(keel.addr)), 10_000, 'outsider dial')
    const seen = await waitFor(async () => {
      const p = await outsider.peerStore.get(peerIdFromString(keel.peerId)).catch(() => null)
      return p?.protocols.length > 0 ? p : null
    }, { what: 'identify of the chiral keel in the outsider' })
    assert.ok(seen.protocols.includes(CHIRAL_KAD), JSON.stringify(seen.protocols))
    assert.ok(!seen.protocols.includes(IPFS_KAD), JSON.stringify(seen.protocols))
    assert.equal(decode(seen.metadata.get('ProtocolVersion')), CHIRAL_VERSION)
    // Chiral clients strip "chiral/" and a "v", then read [0-9.]+: anything else is dropped
    const agent = decode(seen.metadata.get('AgentVersion'))
    assert.match(agent.replace(/^chiral\//, '').replace(/^v/, ''), /^[0-9.]+/, agent)
    assert.ok(agent.startsWith('chiral/'), agent)

    const a = await createDhtPeer({ protocol: CHIRAL_KAD, chiral: true })
    const b = await createDhtPeer({ protocol: CHIRAL_KAD, chiral: true })
    await joinDht(a, keel.addr, keel.peerId)
    await joinDht(b, keel.addr, keel.peerId)
    // the patched identify protocolVersion is what js sends (seen from another js node)
    await withDeadline(b.dial(a.getMultiaddrs()[0]), 10_000, 'chiral js b dials a')
    const pv = await waitFor(async () => {
      const p = await b.peerStore.get(a.peerId).catch(() => null)
      return decode(p?.metadata.get('ProtocolVersion'))
    }, { what: 'identify of chiral js a in b' })
    assert.equal(pv, CHIRAL_VERSION)

    const cid = await randomCid()
    const events = await allEvents(s => a.services.dht.provide(cid, { signal: s }), { what: 'chiral js provide' })
    assert.ok(responded(events, 'ADD_PROVIDER', keel.peerId), 'chiral js sent no ADD_PROVIDER to keel')
    await findEvent(s => b.services.dht.findProviders(cid, { signal: s }),
      providersFrom(keel.peerId, p => p.id.equals(a.peerId)),
      { what: 'chiral GET_PROVIDERS response from keel listing A' })
    const got = await keelDht('providers', [cid.toString()], keel.addr, { profile: 'chiral' })
    assert.ok(got.result.providers?.some(p => p.peer_id === a.peerId.toString()), got.what)

    // keel provides on chiral, js finds it
    const put = await keelDht('provide', [`chiral-${hex(crypto.getRandomValues(new Uint8Array(8)))}`], keel.addr, { profile: 'chiral' })
    assert.equal(put.result.ok, true, put.what)
    const known = new Set([keel.peerId, a.peerId.toString(), b.peerId.toString()])
    await findEvent(s => b.services.dht.findProviders(CID.parse(put.result.cid), { signal: s }),
      providersFrom(keel.peerId, x => !known.has(x.id.toString())),
      { what: 'chiral GET_PROVIDERS response from keel listing the keel provider' })

    // the chiral js nodes are found through keel; the ipfs-kad node is not in keel's table
    const ok = await keelDht('find-peer', [b.peerId.toString()], keel.addr, { profile: 'chiral' })
    assert.equal(ok.result.ok, true, ok.what)
    const miss = await keelDht('find-peer', [outsider.peerId.toString()], keel.addr, { profile: 'chiral' })
    assert.equal(miss.result.ok, false, `the ipfs-kad js node was found on chiral: ${miss.what}`)
    const table = await keelDht('table', [], keel.addr, { profile: 'chiral' })
    const ids = table.result.peers.map(p => p.peer_id)
    assert.ok(ids.includes(keel.peerId), table.what)
    assert.ok(!ids.includes(outsider.peerId.toString()), table.what)
    // and js keeps the chiral keel out of its /ipfs/kad table
    assert.equal(await outsider.services.dht.routingTable.find(peerIdFromString(keel.peerId)), undefined)
  })
})
