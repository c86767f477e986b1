// Circuit Relay v2 against js-libp2p (@libp2p/circuit-relay-v2's client transport): a js peer
// reserves a slot on a plain `keel bootstrap` (relay is on by default) and listens on its
// /p2p-circuit address; a second js peer dials that address through Keel and echoes data over the
// relayed connection. Keel's refusals (no reservation) and its figures in /api/v1/node are checked
// too. KEEL_BINARY is the keel binary (ctest sets it). Run: ./run-node.sh --test relay.test.mjs
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, describe, it } from 'node:test'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { tcp } from '@libp2p/tcp'
import { createJsPeer, multiaddr, waitFor, withDeadline } from './lib/js-peer.mjs'
import { killAll, startKeelNode } from './lib/keel-process.mjs'

const ECHO = '/keel-test/echo/1.0.0'
const cleanups = []
afterEach(async () => { while (cleanups.length > 0) await cleanups.pop()().catch(() => {}) })
after(killAll)

async function startBootstrap (args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-relay-interop-'))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  const keel = await startKeelNode({ command: 'bootstrap', args: ['--data-dir', dir, ...args] })
  cleanups.push(() => keel.stop())
  return keel
}

async function relayClient (listen = []) {
  const node = await createJsPeer({
    listen,
    libp2p: { transports: [tcp(), circuitRelayTransport()] }
  })
  cleanups.push(() => withDeadline(node.stop(), 5000, 'js stop'))
  return node
}

async function nodeInfo (keel) {
  const res = await fetch(`${keel.event.api}/api/v1/node`)
  return res.json()
}

/** Sends `bytes` on a js stream and collects as many bytes back. */
async function echoThrough (stream, bytes) {
  const received = []
  let total = 0
  const reading = (async () => {
    for await (const chunk of stream) {
      const part = chunk.subarray()
      received.push(part)
      total += part.length
      if (total >= bytes.length) break
    }
  })()
  stream.send(bytes)
  await withDeadline(reading, 15_000, 'echo through the relay')
  return Buffer.concat(received)
}

describe('circuit relay v2 (js clients, keel relay)', () => {
  it('a js peer reserves on keel bootstrap and another js peer reaches it through the circuit', { timeout: 60_000 }, async () => {
    const keel = await startBootstrap()
    const relayAddr = keel.addr

    // A: listens on the relay (reserves); its circuit address appears among its addresses
    const a = await relayClient([`${relayAddr}/p2p-circuit`])
    await a.handle(ECHO, async (stream) => {
      for await (const chunk of stream) stream.send(chunk.subarray())
      await stream.close()
    }, { runOnLimitedConnection: true })
    const circuit = await waitFor(() => a.getMultiaddrs().map(String).find(m => m.includes('/p2p-circuit')),
      { ms: 20_000, what: 'a /p2p-circuit address on the js listener (reservation on keel)' })
    assert.ok(circuit.startsWith(relayAddr), `${circuit} is keel's address + /p2p-circuit`)
    const info = await nodeInfo(keel)
    assert.equal(info.relay.reservations, 1, JSON.stringify(info.relay))

    // B: dials A through keel and echoes 32 KiB (under the default 128 KiB circuit limit)
    const b = await relayClient()
    const target = multiaddr(`${relayAddr}/p2p-circuit/p2p/${a.peerId}`)
    const conn = await withDeadline(b.dial(target), 20_000, 'js dial through keel')
    assert.equal(conn.limits != null, true, 'a relayed connection is limited')
    const stream = await withDeadline(conn.newStream(ECHO, { runOnLimitedConnection: true }), 10_000, 'echo stream')
    const payload = crypto.getRandomValues(new Uint8Array(32 * 1024))
    const back = await echoThrough(stream, payload)
    assert.deepEqual(new Uint8Array(back), payload)
    await stream.close().catch(() => {})
    await conn.close()

    const after = await waitFor(async () => {
      const r = (await nodeInfo(keel)).relay
      return r.circuits_opened >= 1 && r.bytes_relayed >= 2 * payload.length ? r : null
    }, { ms: 10_000, what: 'keel to count the circuit and its bytes' })
    console.log(`# [figure] js→keel relay→js: 32 KiB echoed; keel relay stats ${JSON.stringify(after)}`)
  })

  it('a dial to a peer without a reservation fails with NO_RESERVATION, counted', { timeout: 30_000 }, async () => {
    const keel = await startBootstrap()
    const a = await relayClient(['/ip4/127.0.0.1/tcp/0']) // connected to nobody, no reservation
    const b = await relayClient()
    const target = multiaddr(`${keel.addr}/p2p-circuit/p2p/${a.peerId}`)
    await assert.rejects(withDeadline(b.dial(target), 20_000, 'dial without reservation'), /NO_RESERVATION|no reservation/i)
    const info = await nodeInfo(keel)
    assert.equal(info.relay.refused_by_reason.no_reservation, 1, JSON.stringify(info.relay))
  })
})
