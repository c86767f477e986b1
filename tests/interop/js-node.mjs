// js-libp2p reference peer with Keel's CLI contract, for trying things by hand and for checking
// the harness itself without a keel binary (lib/keel-standin.sh makes it look like `keel`).
//
//   run-node.sh js-node.mjs listen|node [--listen MA] [--no-inline-muxer] [--agent S] [--json]
//       prints {"event":"listening","peer_id":...,"addrs":[".../p2p/..."]}, runs until SIGTERM/SIGINT
//   run-node.sh js-node.mjs ping MA/p2p/ID [--count N] [--timeout 10s] [--no-inline-muxer] [--json]
//       prints {"ok":true,"peer_id":...,"rtts_ms":[...]} (exit 0) or {"ok":false,"phase":...,"error":...} (exit 1)
//
// Output is always one JSON object per line (--json is accepted for compatibility).
import { peerIdFromString } from '@libp2p/peer-id'
import { createJsPeer, loopbackAddrs, multiaddr, withDeadline } from './lib/js-peer.mjs'

function usage (msg) {
  process.stderr.write(`js-node: ${msg}\nusage: js-node.mjs listen|node [--listen MA] [--no-inline-muxer] [--agent S] [--json]\n` +
    '       js-node.mjs ping MULTIADDR [--count N] [--timeout 10s] [--no-inline-muxer] [--agent S] [--json]\n')
  process.exit(2)
}

function parseArgs (argv) {
  const out = { positional: [], listen: [], count: 1, timeoutMs: 10_000, inline: true, agent: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i] }
    if (a === '--listen') out.listen.push(val())
    else if (a === '--count') out.count = Number(val())
    else if (a === '--timeout') out.timeoutMs = parseDuration(val())
    else if (a === '--no-inline-muxer') out.inline = false
    else if (a === '--agent') out.agent = val()
    else if (a === '--json') { /* always JSON */ } else if (a.startsWith('--')) usage(`unknown flag ${a}`)
    else out.positional.push(a)
  }
  if (!Number.isInteger(out.count) || out.count < 1) usage('--count must be a positive integer')
  return out
}

function parseDuration (s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s)
  if (m == null) usage(`bad duration ${s}`)
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's'])
}

const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

async function listen (args) {
  const node = await createJsPeer({
    listen: args.listen.length > 0 ? args.listen : ['/ip4/127.0.0.1/tcp/0'],
    inlineMuxer: args.inline,
    agentVersion: args.agent
  })
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await withDeadline(node.stop(), 5000, 'node.stop').catch(() => {})
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  print({ event: 'listening', peer_id: node.peerId.toString(), addrs: loopbackAddrs(node) })
}

// Maps a js-libp2p dial error to the contract's phase names.
function dialPhase (err) {
  const text = `${err.name} ${err.message} ${err.cause?.name ?? ''} ${err.cause?.message ?? ''}`
  if (/Encrypt|Crypto|Noise|UnexpectedPeer|InvalidPeerId|decrypt|handshake/i.test(text)) return 'security'
  if (/Mux|yamux/i.test(text)) return 'muxer'
  return 'dial'
}

async function ping (args) {
  if (args.positional.length !== 1) usage('ping needs exactly one multiaddr')
  let ma, peerId
  try {
    ma = multiaddr(args.positional[0])
    peerId = peerIdFromString(ma.getComponents().findLast(c => c.name === 'p2p')?.value ?? '')
  } catch (err) {
    print({ ok: false, phase: 'dial', error: `bad multiaddr: ${err.message}` })
    process.exit(1)
  }
  const node = await createJsPeer({ listen: false, inlineMuxer: args.inline, agentVersion: args.agent, connectionMonitor: false })
  let phase = 'dial'
  let code = 1
  try {
    await withDeadline(node.dial(ma, { signal: AbortSignal.timeout(args.timeoutMs) }), args.timeoutMs + 1000, 'dial')
      .catch(err => { phase = dialPhase(err); throw err })
    phase = 'protocol'
    const rtts = []
    for (let i = 0; i < args.count; i++) {
      rtts.push(await node.services.ping.ping(ma, { signal: AbortSignal.timeout(args.timeoutMs) }))
    }
    print({ ok: true, peer_id: peerId.toString(), rtts_ms: rtts })
    code = 0
  } catch (err) {
    print({ ok: false, phase, error: `${err.name}: ${err.message}` })
  }
  await withDeadline(node.stop(), 5000, 'node.stop').catch(() => {})
  process.exit(code)
}

const [cmd, ...rest] = process.argv.slice(2)
const args = parseArgs(rest)
if (cmd === 'listen' || cmd === 'node') await listen(args)
else if (cmd === 'ping') await ping(args)
else usage(`unknown command ${cmd ?? '(none)'}`)
