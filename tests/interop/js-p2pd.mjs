// js-libp2p with the command line of go-libp2p-daemon's p2pd, i.e. of `keel p2pd`: the stand-in
// for the "go" daemon of p2pd-interop.mjs (KEEL_INTEROP_GO=js, or KEEL_BINARY=lib/keel-standin.sh),
// to check the harness without Keel. Takes the flags @libp2p/interop's go factory passes:
//
//   run-node.sh js-p2pd.mjs -listen=/ip4/127.0.0.1/tcp/PORT (-hostAddrs=MA[,MA] | -noListenAddrs)
//       [-id=KEYFILE] [-noise=true] [-muxer=yamux] [-dhtServer | -dht]
//
// and prints what p2pd prints once the control endpoint listens:
//   Control socket: /ip4/127.0.0.1/tcp/PORT
//   Peer ID: 12D3Koo...
//   Peer Addrs:
//   /ip4/127.0.0.1/tcp/NNNNN
// Anything Keel does not support (-tls=true, -muxer=mplex, -pubsub, -relay, -noise=false, non-TCP
// host addresses, non-Ed25519 keys) exits 1 with a message, as does an unknown flag (exit 2, like
// Go's flag package). SIGTERM/SIGINT: stops the node, exits 0.
import { startJsDaemon, unsupportedReason } from './lib/p2pd-js.mjs'

const BOOL = new Set(['noListenAddrs', 'noise', 'tls', 'dht', 'dhtServer', 'dhtClient', 'pubsub', 'relay', 'q', 'b'])
const STRING = new Set(['listen', 'hostAddrs', 'id', 'muxer', 'pubsubRouter'])

function die (code, msg) {
  process.stderr.write(`js-p2pd: ${msg}\n`)
  process.exit(code)
}

/** Go flag syntax: -name, --name, -name=value, and -name value for non-boolean flags. */
function parseFlags (argv) {
  const flags = {}
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(argv[i])
    if (m == null) die(2, `unexpected argument ${argv[i]}`)
    const [, name, value] = m
    if (BOOL.has(name)) {
      if (value != null && !/^(true|false|1|0)$/.test(value)) die(2, `invalid boolean value "${value}" for -${name}`)
      flags[name] = value == null || value === 'true' || value === '1'
    } else if (STRING.has(name)) {
      if (value != null) flags[name] = value
      else if (i + 1 < argv.length) flags[name] = argv[++i]
      else die(2, `flag needs an argument: -${name}`)
    } else {
      die(2, `flag provided but not defined: -${name}`)
    }
  }
  return flags
}

const flags = parseFlags(process.argv.slice(2))
if (flags.listen == null) die(2, '-listen=MULTIADDR (the control endpoint) is required')
if (!flags.listen.startsWith('/ip4/127.0.0.1/tcp/')) die(1, `-listen=${flags.listen}: only /ip4/127.0.0.1/tcp/PORT is supported`)
const hostAddrs = flags.hostAddrs?.split(',') ?? []
if (hostAddrs.some(a => !/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/.test(a))) die(1, `-hostAddrs=${flags.hostAddrs}: only /ip4/127.0.0.1/tcp/PORT is supported`)
if (flags.noise === false) die(1, '-noise=false: Noise is the only security protocol')
if (flags.dhtClient) die(1, '-dhtClient: only server mode is supported')

const opts = {
  key: flags.id,
  noListen: flags.noListenAddrs === true,
  listen: hostAddrs.length > 0 ? hostAddrs : undefined,
  dht: flags.dht === true || flags.dhtServer === true,
  encryption: flags.tls === true ? 'tls' : undefined,
  muxer: flags.muxer,
  pubsub: flags.pubsub,
  relay: flags.relay
}
const reason = unsupportedReason(opts)
if (reason != null) die(1, reason)

let daemon
try {
  daemon = await startJsDaemon(opts, flags.listen)
} catch (err) {
  die(1, `start failed: ${err.stack ?? err}`)
}
let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  const timer = setTimeout(() => process.exit(0), 5000)
  await daemon.stop().catch(() => {})
  clearTimeout(timer)
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

const addrs = daemon.node.getMultiaddrs().map(ma => ma.toString().replace(/\/p2p\/[^/]+$/, ''))
if (!flags.q) {
  process.stdout.write(`Control socket: ${daemon.controlAddr}\nPeer ID: ${daemon.node.peerId}\nPeer Addrs:\n${addrs.map(a => a + '\n').join('')}`)
}
