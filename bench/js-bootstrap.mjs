// A js-libp2p bootstrap for bench/compare.sh: the counterpart of `keel bootstrap`, built from the
// packages of tests/interop (js-libp2p 3.3.x, @libp2p/kad-dht 16.4.x; run tests/interop/install.sh).
//
//   tests/interop/run-node.sh bench/js-bootstrap.mjs [--listen MA] [--max-connections N]
//       [--max-pending N] [--backlog N] [--connection-monitor on|off] [--dht on|off]
//
// TCP on 127.0.0.1 (port 0 unless --listen), Noise, Yamux, identify (+ push), ping and
// @libp2p/kad-dht in server mode (clientMode false) on /ipfs/kad/1.0.0, so that `keel load
// --find-node` runs the same protocol against it as against `keel bootstrap`. Prints one JSON line
//   {"event":"listening","peer_id":...,"addrs":[".../p2p/..."],"pid":...}
// then runs until SIGTERM/SIGINT, when it prints {"event":"stopped","connections":...}.
//
// Connection limits are raised so that it does not refuse by policy (js-libp2p's defaults are made
// for a browser or a light node: 300 connections, 10 upgrades in progress, 5 new connections per
// second from one host):
//   maxConnections                  --max-connections (default 100000): pruning starts above it
//   maxIncomingPendingConnections   --max-pending (default 256, the same as Keel's
//                                   limits.max_pending_inbound): upgrades in progress at once
//   inboundConnectionThreshold      unlimited (keel load dials from 127.1.0.x, one address per 100
//                                   connections, so at 2,000/s that is 100/s per address)
//   inboundUpgradeTimeout           10 s (js default, the same as Keel's handshake_timeout)
//   TCP listen backlog              --backlog (default 4096, as go-libp2p and Keel ask for: the
//                                   kernel's somaxconn; Node's default is 511)
// The connection monitor (js pings every connection every 10 s by default) stays on, as in a real
// js node, unless --connection-monitor off. --dht off leaves kad-dht out (to see what the DHT
// service costs per connection; `keel load` without --find-node then).
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const interop = join(here, '..', 'tests', 'interop')
// ES modules resolve packages from the importing file's directory, and node_modules lives in
// tests/interop: import through tests/interop/lib/js-peer.mjs and by path for kad-dht.
const { createJsPeer, loopbackAddrs, withDeadline } = await import(pathToFileURL(join(interop, 'lib', 'js-peer.mjs')).href)
const { kadDHT, passthroughMapper } = await import(
  pathToFileURL(join(interop, 'node_modules', '@libp2p', 'kad-dht', 'dist', 'src', 'index.js')).href)
const { tcp } = await import(
  pathToFileURL(join(interop, 'node_modules', '@libp2p', 'tcp', 'dist', 'src', 'index.js')).href)

function usage (msg) {
  process.stderr.write(`js-bootstrap: ${msg}\nusage: js-bootstrap.mjs [--listen MA] [--max-connections N] [--max-pending N] [--backlog N] [--connection-monitor on|off] [--dht on|off]\n`)
  process.exit(2)
}

const args = { listen: '/ip4/127.0.0.1/tcp/0', maxConnections: 100_000, maxPending: 256, backlog: 4096, monitor: true, dht: true }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i] }
  if (a === '--listen') args.listen = val()
  else if (a === '--max-connections') args.maxConnections = Number(val())
  else if (a === '--max-pending') args.maxPending = Number(val())
  else if (a === '--backlog') args.backlog = Number(val())
  else if (a === '--connection-monitor') args.monitor = val() !== 'off'
  else if (a === '--dht') args.dht = val() !== 'off'
  else usage(`unknown argument ${a}`)
}
for (const k of ['maxConnections', 'maxPending', 'backlog']) {
  if (!Number.isInteger(args[k]) || args[k] < 1) usage(`${k} must be a positive integer`)
}

const node = await createJsPeer({
  listen: [args.listen],
  services: args.dht
    ? { dht: kadDHT({ protocol: '/ipfs/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper }) }
    : {},
  libp2p: {
    // replaces js-peer.mjs's transports, connectionManager (a shallow merge) and connectionMonitor
    transports: [tcp({ backlog: args.backlog })],
    connectionManager: {
      maxConnections: args.maxConnections,
      maxIncomingPendingConnections: args.maxPending,
      inboundConnectionThreshold: Number.MAX_SAFE_INTEGER,
      inboundUpgradeTimeout: 10_000
    },
    connectionMonitor: { enabled: args.monitor, pingInterval: 10_000 }
  }
})

const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  const connections = node.getConnections().length
  await withDeadline(node.stop(), 10_000, 'node.stop').catch(() => {})
  print({ event: 'stopped', connections })
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
print({ event: 'listening', peer_id: node.peerId.toString(), addrs: loopbackAddrs(node), pid: process.pid })
