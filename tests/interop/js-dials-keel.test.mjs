// js-libp2p dials Keel (`keel node`): ping, identify, a long-lived connection, and Keel's SIGTERM.
// KEEL_BINARY is the keel binary (ctest sets it). Run: ./run-node.sh --test js-dials-keel.test.mjs
import assert from 'node:assert/strict'
import { after, afterEach, describe, it } from 'node:test'
import { ID_PROTOCOL, ID_PUSH_PROTOCOL, PING_PROTOCOL, createJsPeer, multiaddr, waitFor, withDeadline } from './lib/js-peer.mjs'
import { killAll, startKeelNode, stopProcess } from './lib/keel-process.mjs'

const decode = (b) => b == null ? undefined : new TextDecoder().decode(b)
const stripP2p = (a) => a.replace(/\/p2p\/[^/]+$/, '')

// Every js node and keel process a test starts goes here and is stopped after it, pass or fail.
const cleanups = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await withDeadline(fn(), 10_000, 'cleanup').catch(() => {})
})
after(killAll)

async function setup ({ keelArgs = [], inlineMuxer = true, jsOpts = {} } = {}) {
  const keel = await startKeelNode({ args: keelArgs })
  cleanups.push(() => keel.stop())
  const js = await createJsPeer({ inlineMuxer, ...jsOpts })
  cleanups.push(() => js.stop())
  return { keel, js }
}

// The same checks with and without the Noise stream_muxers extension ("inlined muxer
// negotiation"), switched off on either side.
const variants = [
  { name: 'default (both sides offer inlined muxer negotiation)', keelArgs: [], inlineMuxer: true },
  { name: 'keel --no-inline-muxer (muxer via multistream-select)', keelArgs: ['--no-inline-muxer'], inlineMuxer: true },
  { name: 'js without inlined muxer negotiation', keelArgs: [], inlineMuxer: false }
]

for (const v of variants) {
  describe(`js dials keel: ${v.name}`, () => {
    it('pings at least 3 times and reads Keel\'s identify', { timeout: 60_000 }, async () => {
      const { keel, js } = await setup(v)
      const ma = multiaddr(keel.addr)

      const conn = await withDeadline(js.dial(ma), 15_000, `js dial ${keel.addr}`)
      assert.equal(conn.remotePeer.toString(), keel.peerId)
      assert.equal(conn.encryption, '/noise')
      assert.equal(conn.multiplexer, '/yamux/1.0.0')

      for (let i = 0; i < 3; i++) {
        const rtt = await withDeadline(js.services.ping.ping(ma), 10_000, `ping ${i + 1}`)
        assert.ok(Number.isFinite(rtt) && rtt >= 0, `ping ${i + 1}: rtt ${rtt}`)
      }

      // js runs identify on every new connection and stores the result in its peerStore
      const peer = await waitFor(async () => {
        const p = await js.peerStore.get(conn.remotePeer).catch(() => null)
        return p?.metadata.get('AgentVersion') != null && p.protocols.length > 0 ? p : null
      }, { ms: 10_000, what: 'identify of keel in js peerStore' })
      const agent = decode(peer.metadata.get('AgentVersion'))
      assert.ok(agent.startsWith('keel/'), `agentVersion ${agent}`)
      assert.equal(decode(peer.metadata.get('ProtocolVersion')), 'ipfs/0.1.0')
      for (const p of [PING_PROTOCOL, ID_PROTOCOL, ID_PUSH_PROTOCOL]) {
        assert.ok(peer.protocols.includes(p), `protocols ${JSON.stringify(peer.protocols)} lack ${p}`)
      }
      const addrs = peer.addresses.map(a => stripP2p(a.multiaddr.toString()))
      assert.ok(addrs.includes(stripP2p(keel.addr)), `listenAddrs ${JSON.stringify(addrs)} lack ${stripP2p(keel.addr)}`)

      assert.equal(conn.status, 'open')
    })
  })
}

describe('js dials keel: long-lived connection', () => {
  it('stays open for 35 s while js pings it every 10 s', { timeout: 90_000 }, async () => {
    const { keel, js } = await setup({ jsOpts: { pingInterval: 10_000 } })
    const conn = await withDeadline(js.dial(multiaddr(keel.addr)), 15_000, `js dial ${keel.addr}`)

    // count the connection monitor's pings on this connection (it opens a /ipfs/ping/1.0.0 stream)
    let monitorPings = 0
    const newStream = conn.newStream.bind(conn)
    conn.newStream = async (protocols, opts) => {
      const s = await newStream(protocols, opts)
      if ([protocols].flat().includes(PING_PROTOCOL)) monitorPings++
      return s
    }

    // A fixed hold is the point of this test: no idle timeout, keep-alive or ping problem may
    // close the connection in the meantime.
    const holdMs = 35_000
    const until = Date.now() + holdMs
    while (Date.now() < until) {
      assert.equal(conn.status, 'open', `connection closed after ${holdMs - (until - Date.now())} ms`)
      await new Promise(resolve => setTimeout(resolve, 500))
    }

    assert.equal(conn.status, 'open')
    const open = js.getConnections(conn.remotePeer)
    assert.ok(open.some(c => c.id === conn.id), `original connection ${conn.id} not among ${open.map(c => c.id)}`)
    assert.ok(monitorPings >= 3, `js connection monitor pinged ${monitorPings} times in ${holdMs} ms`)
    assert.ok(conn.rtt != null, 'connection monitor never measured an rtt')
    // and it still carries streams
    const rtt = await withDeadline(js.services.ping.ping(multiaddr(keel.addr)), 10_000, 'final ping')
    assert.ok(rtt >= 0)
    assert.equal(js.getConnections(conn.remotePeer).length, 1, 'the final ping opened a second connection')
  })
})

describe('js dials keel: keel stops', () => {
  it('js sees the connection close when keel gets SIGTERM', { timeout: 60_000 }, async () => {
    const { keel, js } = await setup()
    const conn = await withDeadline(js.dial(multiaddr(keel.addr)), 15_000, `js dial ${keel.addr}`)
    await withDeadline(js.services.ping.ping(multiaddr(keel.addr)), 10_000, 'ping before SIGTERM')

    let closeEvent = false
    js.addEventListener('connection:close', (evt) => { if (evt.detail.id === conn.id) closeEvent = true })

    const exit = await stopProcess(keel.proc, { signal: 'SIGTERM', ms: 10_000 })
    assert.ok(exit.signal !== 'SIGKILL', 'keel did not exit within 10 s of SIGTERM')

    await waitFor(() => conn.status === 'closed' && closeEvent && js.getConnections(conn.remotePeer).length === 0,
      { ms: 10_000, what: `js to see connection ${conn.id} close (status ${conn.status})` })
  })
})
