// js-libp2p behind the libp2p daemon control protocol (@libp2p/daemon-server), configured from the
// @libp2p/interop SpawnOptions the way js-libp2p's own interop runner does it
// (packages/integration-tests/test/interop.ts, createJsPeer), restricted to what Keel speaks:
// TCP on 127.0.0.1, Noise, Yamux, Ed25519 keys, identify, ping and kad-dht (/ipfs/kad/1.0.0,
// server mode, passthroughMapper so 127.0.0.1 addresses are kept). Used for the in-process "js"
// daemons of p2pd-interop.mjs and by js-p2pd.mjs (the go-daemon CLI stand-in for `keel p2pd`).
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { createServer } from '@libp2p/daemon-server'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { createJsPeer, multiaddr } from './js-peer.mjs'

/** Why Keel cannot take part in a daemon with these SpawnOptions; undefined if it can. */
export function unsupportedReason (opts) {
  const reasons = []
  if (opts.transport === 'webtransport') reasons.push(REASONS.webtransport)
  else if (opts.transport === 'webrtc-direct') reasons.push(REASONS['webrtc-direct'])
  else if (opts.transport != null && opts.transport !== 'tcp') reasons.push(`transport ${opts.transport}: Keel has TCP only`)
  if (opts.encryption != null && opts.encryption !== 'noise') reasons.push(REASONS[opts.encryption] ?? `${opts.encryption}: Keel has Noise only`)
  if (opts.muxer != null && opts.muxer !== 'yamux') reasons.push(REASONS[opts.muxer] ?? `${opts.muxer}: Keel has Yamux only`)
  const keyType = opts.key == null ? undefined : /\.(\w+)\.key$/.exec(basename(opts.key))?.[1]
  if (keyType != null && keyType !== 'ed25519') reasons.push(REASONS[keyType] ?? `${keyType} identity: Keel keys are Ed25519 only`)
  if (opts.pubsub === true || opts.pubsubRouter != null) reasons.push(REASONS.pubsub)
  if (opts.relay === true) reasons.push(REASONS.relay)
  return reasons.length > 0 ? reasons.join('; ') : undefined
}

export const REASONS = {
  webtransport: 'WebTransport (QUIC): Keel has TCP only',
  'webrtc-direct': 'WebRTC: Keel has TCP only',
  tls: 'TLS 1.3: Keel secures connections with Noise only',
  plaintext: 'plaintext (no security): Keel secures connections with Noise only',
  mplex: 'mplex: Keel muxes with Yamux only',
  rsa: 'RSA identity: Keel keys are Ed25519 only',
  secp256k1: 'secp256k1 identity: Keel keys are Ed25519 only',
  pubsub: 'pubsub (floodsub/gossipsub): not implemented by Keel',
  relay: 'circuit relay v2: not implemented by Keel'
}

/**
 * Starts a js-libp2p node and a daemon-server for it.
 * @param {object} opts SpawnOptions subset: { key?: path, noListen?, dht? } (others must be
 *   supported: see unsupportedReason; callers check), plus listen?: host addresses (default
 *   /ip4/127.0.0.1/tcp/0)
 * @param {string} [controlAddr] control endpoint multiaddr (default 127.0.0.1, any port)
 * @returns {Promise<{ node, server, controlAddr: string, stop: () => Promise<void> }>}
 */
export async function startJsDaemon (opts, controlAddr = '/ip4/127.0.0.1/tcp/0') {
  const node = await createJsPeer({
    privateKey: opts.key != null ? readFileSync(opts.key) : undefined,
    listen: opts.noListen === true ? false : (opts.listen ?? ['/ip4/127.0.0.1/tcp/0']),
    services: opts.dht === true
      ? { dht: kadDHT({ protocol: '/ipfs/kad/1.0.0', peerInfoMapper: passthroughMapper, clientMode: false }) }
      : {}
  })
  const server = createServer(multiaddr(controlAddr), node)
  try {
    await server.start()
  } catch (err) {
    await node.stop().catch(() => {})
    throw err
  }
  let stopped
  return {
    node,
    server,
    controlAddr: server.getMultiaddr().toString(),
    // server.stop() stops the libp2p node, then closes the control listener
    stop: () => (stopped ??= server.stop())
  }
}
