// Keel dials js-libp2p: `keel ping <js addr> --count 3 --json` against a js node in this process,
// with and without inlined muxer negotiation, plus the contract's failure reports.
// KEEL_BINARY is the keel binary (ctest sets it). Run: ./run-node.sh --test keel-dials-js.test.mjs
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { after, afterEach, describe, it } from 'node:test'
import { createJsPeer, loopbackAddrs, waitFor, withDeadline } from './lib/js-peer.mjs'
import { killAll, runKeelPing } from './lib/keel-process.mjs'

const cleanups = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await withDeadline(fn(), 10_000, 'cleanup').catch(() => {})
})
after(killAll)

async function jsListener (opts = {}) {
  const js = await createJsPeer(opts)
  cleanups.push(() => js.stop())
  const addr = loopbackAddrs(js)[0]
  assert.ok(addr != null, `js node has no 127.0.0.1 address: ${js.getMultiaddrs()}`)
  return { js, addr }
}

function describeRun (r) {
  return `exit ${r.code ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`
}

const variants = [
  { name: 'default (both sides offer inlined muxer negotiation)', keelArgs: [], inlineMuxer: true },
  { name: 'keel ping --no-inline-muxer', keelArgs: ['--no-inline-muxer'], inlineMuxer: true },
  { name: 'js listener without inlined muxer negotiation', keelArgs: [], inlineMuxer: false }
]

for (const v of variants) {
  describe(`keel pings js: ${v.name}`, () => {
    it('keel ping --count 3 succeeds with 3 RTTs', { timeout: 60_000 }, async () => {
      const { js, addr } = await jsListener({ inlineMuxer: v.inlineMuxer })
      const inbound = []
      js.addEventListener('connection:open', (evt) => inbound.push(evt.detail))

      const r = await runKeelPing(addr, { args: ['--count', '3', '--timeout', '10s', ...v.keelArgs], ms: 40_000 })
      assert.equal(r.code, 0, describeRun(r))
      assert.ok(r.result != null, `no JSON result; ${describeRun(r)}`)
      assert.equal(r.result.ok, true, describeRun(r))
      assert.equal(r.result.peer_id, js.peerId.toString())
      assert.ok(Array.isArray(r.result.rtts_ms) && r.result.rtts_ms.length === 3, `rtts_ms ${JSON.stringify(r.result.rtts_ms)}`)
      for (const rtt of r.result.rtts_ms) assert.ok(typeof rtt === 'number' && Number.isFinite(rtt) && rtt >= 0, `rtt ${rtt}`)

      // js saw an inbound, noise + yamux connection from the keel process
      await waitFor(() => inbound.length > 0, { ms: 5000, what: 'js connection:open event' })
      assert.equal(inbound[0].direction, 'inbound')
      assert.equal(inbound[0].encryption, '/noise')
      assert.equal(inbound[0].multiplexer, '/yamux/1.0.0')
    })
  })
}

describe('keel ping failures', () => {
  it('reports phase "dial" for a closed port', { timeout: 30_000 }, async () => {
    const port = await new Promise((resolve, reject) => {
      const srv = createServer()
      srv.once('error', reject)
      srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)) })
    })
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const r = await runKeelPing(`/ip4/127.0.0.1/tcp/${port}/p2p/${id}`, { args: ['--count', '1', '--timeout', '5s'], ms: 20_000 })
    assert.notEqual(r.code, 0, describeRun(r))
    assert.equal(r.result?.ok, false, describeRun(r))
    assert.equal(r.result.phase, 'dial', describeRun(r))
    assert.equal(typeof r.result.error, 'string')
  })

  it('reports phase "security" when the peer id in the address is not the listener\'s', { timeout: 30_000 }, async () => {
    const { addr } = await jsListener()
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const wrong = addr.replace(/\/p2p\/[^/]+$/, `/p2p/${other}`)
    const r = await runKeelPing(wrong, { args: ['--count', '1', '--timeout', '5s'], ms: 20_000 })
    assert.notEqual(r.code, 0, describeRun(r))
    assert.equal(r.result?.ok, false, describeRun(r))
    assert.equal(r.result.phase, 'security', describeRun(r))
  })
})
