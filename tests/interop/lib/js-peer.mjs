// A small, stable js-libp2p node for the interop tests: TCP + Noise + Yamux, identify (+ push),
// ping, listening on 127.0.0.1 only. Everything else (DHT, autonat, relay, upnp...) is left out.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
export const ID_PROTOCOL = '/ipfs/id/1.0.0'
export const ID_PUSH_PROTOCOL = '/ipfs/id/push/1.0.0'

// Noise with the "stream_muxers" extension (inlined muxer negotiation) switched off.
// @chainsafe/libp2p-noise sends the muxer list in its handshake payload and, when the remote sent
// a list, uses the first common muxer without multistream-select. It has no init flag to turn that
// off, but it honours `skipStreamMuxerNegotiation` (SecureConnectionOptions in @libp2p/interface),
// which libp2p's upgrader never sets for TCP: we set it on every handshake. Then js sends an empty
// list AND ignores the remote's list, so the muxer is always negotiated with multistream-select.
function noiseWithoutInlineMuxer (init) {
  const factory = noise(init)
  return (components) => {
    const enc = factory(components)
    const secureInbound = enc.secureInbound.bind(enc)
    const secureOutbound = enc.secureOutbound.bind(enc)
    enc.secureInbound = (conn, opts) => secureInbound(conn, { ...opts, skipStreamMuxerNegotiation: true })
    enc.secureOutbound = (conn, opts) => secureOutbound(conn, { ...opts, skipStreamMuxerNegotiation: true })
    return enc
  }
}

/**
 * @param {object} [opts]
 * @param {string[]|false} [opts.listen] addresses to listen on (default /ip4/127.0.0.1/tcp/0); false: none
 * @param {boolean} [opts.inlineMuxer] send/use the Noise stream_muxers extension (default true, as js does)
 * @param {string} [opts.agentVersion] identify agentVersion (default js-libp2p's own)
 * @param {number} [opts.pingInterval] connection monitor interval in ms (js default 10000)
 * @param {boolean} [opts.connectionMonitor] false disables js's periodic ping of every connection
 * @param {Uint8Array} [opts.privateKey] protobuf-encoded private key; default: a new Ed25519 key
 * @param {object} [opts.services] extra services (e.g. `{ dht: kadDHT(...) }`), next to identify/ping
 * @param {string} [opts.identifyProtocolVersion] identify protocolVersion (js: `${protocolPrefix}/0.1.0`,
 *   and protocolPrefix also renames the identify protocols; no option sets it, so it is patched)
 * @param {object} [opts.libp2p] extra createLibp2p options, merged last (shallow)
 */
export async function createJsPeer (opts = {}) {
  const privateKey = opts.privateKey != null
    ? privateKeyFromProtobuf(opts.privateKey)
    : await generateKeyPair('Ed25519')
  const listen = opts.listen === false ? [] : (opts.listen ?? ['/ip4/127.0.0.1/tcp/0'])
  const inline = opts.inlineMuxer ?? true

  const node = await createLibp2p({
    privateKey,
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [inline ? noise() : noiseWithoutInlineMuxer()],
    streamMuxers: [yamux()],
    nodeInfo: opts.agentVersion != null ? { userAgent: opts.agentVersion } : undefined,
    connectionMonitor: {
      enabled: opts.connectionMonitor ?? true,
      pingInterval: opts.pingInterval ?? 10_000
    },
    connectionManager: {
      // tests open several connections in quick succession from 127.0.0.1
      inboundConnectionThreshold: 100,
      maxIncomingPendingConnections: 100
    },
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      ...opts.services
    },
    ...opts.libp2p,
    start: false
  })
  if (opts.identifyProtocolVersion != null) {
    // @libp2p/identify has no option for it: both services copy `host.protocolVersion` into the
    // self peer record on start and send it in every identify (push) message.
    for (const s of [node.services.identify, node.services.identifyPush]) s.host.protocolVersion = opts.identifyProtocolVersion
  }
  if (opts.libp2p?.start !== false) await node.start()
  return node
}

export { multiaddr }

/** Listen addresses of a js node, as strings with /p2p/, 127.0.0.1 only. */
export function loopbackAddrs (node) {
  return node.getMultiaddrs().map(String).filter(a => a.startsWith('/ip4/127.0.0.1/'))
}

/** Resolves when cond() is truthy (polled), rejects with `what` after `ms`. */
export async function waitFor (cond, { ms = 10_000, every = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await cond()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, every))
  }
}

/** Rejects after `ms` if `promise` has not settled. */
export function withDeadline (promise, ms, what = 'operation') {
  let timer
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
