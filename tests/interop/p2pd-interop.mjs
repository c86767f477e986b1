// The @libp2p/interop suites (the ones js-libp2p runs against go-libp2p's daemon) with `keel p2pd`
// as the "go" daemon and js-libp2p (@libp2p/daemon-server, in this process) as the "js" one:
// connect over TCP, DHT (content fetching, content routing, peer routing) and echo streams over
// Noise + Yamux with Ed25519 keys, in every js/go combination the suites define (go×js, js×go,
// plus js×js, and go×go where the suite has it). Cases Keel cannot take part in (WebRTC,
// WebTransport, TLS, plaintext, mplex, RSA/secp256k1 identities, pubsub, relay) are listed as
// skipped with the reason. Mocha runs the suites (they are mocha describe/it); a pass/fail table of
// every case is printed at the end; exit status 1 if a case that ran failed.
//
//   KEEL_BINARY=build/dev/keel tests/interop/run-node.sh tests/interop/p2pd-interop.mjs
//   KEEL_INTEROP_GO=js tests/interop/run-node.sh tests/interop/p2pd-interop.mjs   # harness check
//
// Options: --grep REGEX (case titles, as mocha's), --suites connect,dht,streams,pubsub,relay.
// Env: KEEL_BINARY (or KEEL_BIN): the keel binary, run as `keel p2pd FLAGS`; KEEL_INTEROP_GO=js:
// the "go" daemons are js-p2pd.mjs processes instead (via lib/keel-standin.sh p2pd);
// KEEL_INTEROP_TRACE=1|FILE: log every control request/response of the "go" daemons (stderr or
// FILE) through lib/p2pd-trace.mjs; KEEL_INTEROP_VERBOSE=1: stream the "go" daemons' stderr;
// KEEL_INTEROP_REPORT=FILE: the pass/fail table is also written to FILE.
import { spawn } from 'node:child_process'
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@libp2p/daemon-client'
import {
  UnsupportedError, connectInteropTests, dhtInteropTests, pubsubInteropTests, relayInteropTests, streamInteropTests
} from '@libp2p/interop'
import { multiaddr } from '@multiformats/multiaddr'
import Mocha from 'mocha'
import { REASONS, startJsDaemon, unsupportedReason } from './lib/p2pd-js.mjs'
import { startTraceProxy, traceSink } from './lib/p2pd-trace.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const ALL_SUITES = ['connect', 'dht', 'streams', 'pubsub', 'relay']

function usage (msg) {
  process.stderr.write(`p2pd-interop: ${msg}\nusage: p2pd-interop.mjs [--grep REGEX] [--suites ${ALL_SUITES.join(',')}]\n`)
  process.exit(2)
}

const args = { grep: undefined, suites: ALL_SUITES }
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  const val = () => { if (i + 1 >= process.argv.length) usage(`${a} needs a value`); return process.argv[++i] }
  if (a === '--grep') args.grep = new RegExp(val())
  else if (a === '--suites') args.suites = val().split(',')
  else usage(`unknown argument ${a}`)
}
for (const s of args.suites) if (!ALL_SUITES.includes(s)) usage(`unknown suite ${s}`)

// ---- the "go" daemon: `keel p2pd` (or the js stand-in), with the flags of @libp2p/interop's go factory

function goCommand () {
  if (process.env.KEEL_INTEROP_GO === 'js') {
    return { cmd: join(here, 'lib/keel-standin.sh'), pre: ['p2pd'], name: 'js-libp2p stand-in (lib/keel-standin.sh p2pd = js-p2pd.mjs)' }
  }
  const bin = process.env.KEEL_BINARY || process.env.KEEL_BIN
  if (!bin) {
    process.stderr.write('p2pd-interop: set KEEL_BINARY to the keel binary (run as `keel p2pd ...`), or KEEL_INTEROP_GO=js to check the harness with js in both roles\n')
    process.exit(1)
  }
  try {
    accessSync(bin, constants.X_OK)
  } catch {
    process.stderr.write(`p2pd-interop: KEEL_BINARY=${bin} is not an executable file\n`)
    process.exit(1)
  }
  return { cmd: bin, pre: ['p2pd'], name: `${bin} p2pd` }
}

/**
 * The go-libp2p-daemon flags for SpawnOptions, exactly as js-libp2p's interop runner builds them
 * for p2pd (packages/integration-tests/test/interop.ts, createGoPeer), TCP only.
 */
export function goArgs (options, control) {
  const opts = [`-listen=${control}`]
  if (options.noListen === true) opts.push('-noListenAddrs')
  else opts.push('-hostAddrs=/ip4/127.0.0.1/tcp/0')
  if (options.encryption != null) opts.push(`-${options.encryption}=true`)
  if (options.dht === true) opts.push('-dhtServer')
  if (options.relay === true) opts.push('-relay')
  if (options.pubsub === true) opts.push('-pubsub')
  if (options.pubsubRouter != null) opts.push(`-pubsubRouter=${options.pubsubRouter}`)
  if (options.key != null) opts.push(`-id=${options.key}`)
  opts.push(options.muxer === 'mplex' ? '-muxer=mplex' : '-muxer=yamux')
  return opts
}

async function freePort () {
  const srv = net.createServer()
  await new Promise((resolve, reject) => { srv.once('error', reject); srv.listen(0, '127.0.0.1', resolve) })
  const { port } = srv.address()
  await new Promise(resolve => srv.close(resolve))
  return port
}

const live = new Set() // go daemon child processes
const daemonsBySuite = new Map() // mocha Suite -> [{ label, args, stderr() }]
const skipReasons = new Map() // mocha Suite -> reason
let currentSuite
let goSeq = 0
const go = goCommand()
const trace = traceSink(process.env.KEEL_INTEROP_TRACE)
const verbose = process.env.KEEL_INTEROP_VERBOSE === '1'

async function stopChild (child) {
  if (child.exitCode != null || child.signalCode != null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

async function spawnGo (options) {
  const reason = unsupportedReason(options)
  if (reason != null) throw new UnsupportedError(reason)
  const label = `go#${++goSeq}`
  const control = `/ip4/127.0.0.1/tcp/${await freePort()}`
  const argv = [...go.pre, ...goArgs(options, control)]
  const forCase = currentSuite == null ? '?' : `${currentSuite.fullTitle()} › ${currentSuite.tests.map(t => t.title).join(' | ')}`
  trace?.(`[trace] ${label} for "${forCase}": ${go.cmd} ${argv.join(' ')}`)
  const child = spawn(go.cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  child.once('exit', () => live.delete(child))
  let err = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', d => {
    if (verbose) process.stderr.write(d.replace(/^(?=.)/gm, `[${label}] `))
    err += d
    if (err.length > 64 * 1024) err = err.slice(-32 * 1024)
  })
  const info = { label, argv, stderr: () => err }
  if (currentSuite != null) daemonsBySuite.set(currentSuite, [...(daemonsBySuite.get(currentSuite) ?? []), info])

  // like the go factory: ready when stdout says "Control socket: <multiaddr>"
  const printed = await new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error('no "Control socket:" line within 15 s')), 15_000)
    const stderrClosed = new Promise(resolve => child.stderr.once('close', resolve))
    const onExit = (code, signal) => {
      // let the last stderr arrive: it says why
      Promise.race([stderrClosed, new Promise(resolve => setTimeout(resolve, 1000))])
        .then(() => fail(new Error(`exited (${code ?? signal}) before printing "Control socket:"`)))
    }
    function fail (e) {
      clearTimeout(timer)
      child.off('exit', onExit)
      stopChild(child).catch(() => {})
      reject(new Error(`${label}: ${go.cmd} ${argv.join(' ')}: ${e.message}; stderr:\n${err.slice(-4000)}`))
    }
    child.once('exit', onExit)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', d => {
      if (verbose) process.stderr.write(d.replace(/^(?=.)/gm, `[${label} stdout] `))
      if (out == null) return
      out += d
      const m = /Control socket: (\S+)/.exec(out)
      if (m != null && out.slice(m.index).includes('\n')) {
        out = null
        clearTimeout(timer)
        child.off('exit', onExit)
        resolve(m[1])
      }
    })
  })
  // the address it printed, if it is a usable one (a daemon may print the -listen value as given)
  const tcpAddr = /^\/ip4\/([\d.]+)\/tcp\/(\d+)$/
  const controlAddr = Number(tcpAddr.exec(printed)?.[2]) > 0 ? printed : control
  let proxy
  if (trace != null) {
    const [, host, port] = tcpAddr.exec(controlAddr)
    proxy = await startTraceProxy({ host, port: Number(port) }, label, trace)
  }
  return {
    client: createClient(multiaddr(proxy?.addr ?? controlAddr)),
    stop: async () => {
      await stopChild(child)
      proxy?.close()
    }
  }
}

async function spawnJs (options) {
  const reason = unsupportedReason(options)
  if (reason != null) throw new UnsupportedError(reason)
  const d = await startJsDaemon(options)
  return { client: createClient(multiaddr(d.controlAddr)), stop: d.stop }
}

const factory = {
  async spawn (options) {
    try {
      return options.type === 'go' ? await spawnGo(options) : await spawnJs(options)
    } catch (err) {
      if (err.name === 'UnsupportedError' && currentSuite != null) skipReasons.set(currentSuite, err.message)
      throw err
    }
  }
}

// ---- mocha, with describe() wrapped so that unsupported configurations are skipped with a reason

/** Reasons, from a describe() title of the suites, why Keel cannot take part; [] if it can. */
function titleReasons (title) {
  let m
  if ((m = /^connection\.(.+)$/.exec(title)) != null) return m[1] === 'tcp' ? [] : [REASONS[m[1]] ?? `${m[1]}: Keel has TCP only`]
  if ((m = /^(\w+)\/(\w+)\/(\w+) \w+$/.exec(title)) != null) {
    // streams: `${key}/${encryption}/${muxer} echo`; @libp2p/interop passes no muxer in SpawnOptions
    // (both muxer variants spawn the same daemons), so mplex can only be told from the title
    const [, key, enc, mux] = m
    return [key !== 'ed25519' && REASONS[key], enc !== 'noise' && REASONS[enc], mux !== 'yamux' && REASONS[mux]].filter(Boolean)
  }
  if (title.startsWith('pubsub.')) return [REASONS.pubsub]
  if (/ over relay (go|js)$/.test(title)) return [REASONS.relay]
  return []
}

const mocha = new Mocha({ timeout: 60_000, reporter: 'spec' }) // 60 s: aegir's default for node tests
mocha.cleanReferencesAfterRun(false)
if (args.grep != null) mocha.grep(args.grep)
mocha.suite.emit(Mocha.Suite.constants.EVENT_FILE_PRE_REQUIRE, globalThis, 'p2pd-interop.mjs', mocha)
const bddDescribe = globalThis.describe
function describe (title, fn) {
  const reasons = titleReasons(title)
  if (reasons.length === 0) return bddDescribe(title, fn)
  const suite = bddDescribe.skip(title, fn)
  skipReasons.set(suite, reasons.join('; '))
  return suite
}
describe.skip = (title, fn) => {
  const suite = bddDescribe.skip(title, fn)
  skipReasons.set(suite, [...titleReasons(title), 'disabled in @libp2p/interop itself (describe.skip)'].join('; '))
  return suite
}
describe.only = bddDescribe.only
globalThis.describe = globalThis.context = describe

if (args.suites.includes('connect')) connectInteropTests(factory)
if (args.suites.includes('dht')) await dhtInteropTests(factory)
if (args.suites.includes('streams')) await streamInteropTests(factory)
if (args.suites.includes('pubsub')) await pubsubInteropTests(factory)
if (args.suites.includes('relay')) relayInteropTests(factory)

const version = p => JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version
console.log(`p2pd interop: "go" = ${go.name}; "js" = js-libp2p ${version('libp2p')} + @libp2p/daemon-server ${version('@libp2p/daemon-server')} (in process); ` +
  `suites: @libp2p/interop ${version('@libp2p/interop')}${trace != null ? '; tracing the go daemons\' control connections' : ''}`)

const hookFailures = [] // { hook, err }
async function cleanup () {
  await Promise.all([...live].map(c => stopChild(c).catch(() => {})))
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { cleanup().finally(() => process.exit(130)) })
}

const runner = mocha.run(async () => {
  await cleanup()
  const code = printTable()
  // in-process js daemons are stopped by the suites' after() hooks; whatever is left (sockets,
  // timers of a failed case) must not keep the process alive
  process.exit(code)
})
runner.on('suite', s => { currentSuite = s })
runner.on('suite end', s => { currentSuite = s.parent })
runner.on('fail', (t, err) => {
  if (t.type === 'hook') hookFailures.push({ hook: t, err })
  const daemons = daemonsBySuite.get(t.parent) ?? []
  for (const d of daemons) {
    const tail = d.stderr().trim()
    if (tail !== '' && !verbose) console.error(`--- stderr of ${d.label} (${d.argv.join(' ')}), last 4 KB:\n${tail.slice(-4096)}\n---`)
  }
})

function reasonFor (test) {
  for (let s = test.parent; s != null; s = s.parent) if (skipReasons.has(s)) return skipReasons.get(s)
  return 'skipped'
}

function printTable () {
  const rows = []
  const walk = suite => {
    for (const t of suite.tests) {
      if (args.grep != null && !args.grep.test(t.fullTitle())) continue
      let result, note = ''
      if (t.isPending()) { result = 'SKIP'; note = reasonFor(t) } else if (t.state === 'passed') result = 'PASS'
      else if (t.state === 'failed') { result = 'FAIL'; note = firstLine(t.err) } else {
        result = 'FAIL'
        const h = hookFailures.find(f => isAncestor(f.hook.parent, t))
        note = h != null ? `not run: ${h.hook.title}: ${firstLine(h.err)}` : 'not run'
      }
      rows.push({ result, name: `${t.parent.title} › ${t.title}`, ms: t.duration, note })
    }
    for (const s of suite.suites) walk(s)
  }
  walk(mocha.suite)
  for (const f of hookFailures) {
    if (!/"after (all|each)" hook/.test(f.hook.title)) continue // before-hook failures show as "not run"
    rows.push({ result: 'FAIL', name: `${f.hook.parent.title} › ${f.hook.title}`, ms: undefined, note: firstLine(f.err) })
  }
  const w = Math.max(...rows.map(r => r.name.length), 4)
  const lines = ['', `p2pd interop results ("go" = ${go.name}):`, '', `  #  result  ${'case'.padEnd(w)}  time     note`]
  rows.forEach((r, i) => {
    const time = r.ms == null ? '' : r.ms >= 1000 ? `${(r.ms / 1000).toFixed(1)} s` : `${r.ms} ms`
    lines.push(`${String(i + 1).padStart(3)}  ${r.result.padEnd(6)}  ${r.name.padEnd(w)}  ${time.padEnd(7)}  ${r.note}`.trimEnd())
  })
  const count = res => rows.filter(r => r.result === res).length
  const withGo = rows.filter(r => /\bgo (peer|sender)\b|\bgo (peer|listener)\b/.test(r.name))
  lines.push('', `${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIP')} skipped (unsupported configurations); ` +
    `cases with a "go" daemon: ${withGo.filter(r => r.result === 'PASS').length} passed, ${withGo.filter(r => r.result === 'FAIL').length} failed`)
  console.log(lines.join('\n'))
  // ctest keeps a passing test's output to itself: scripts/test prints this file instead.
  if (process.env.KEEL_INTEROP_REPORT) writeFileSync(process.env.KEEL_INTEROP_REPORT, lines.join('\n') + '\n')
  return count('FAIL') > 0 ? 1 : 0
}

function isAncestor (suite, test) {
  for (let s = test.parent; s != null; s = s.parent) if (s === suite) return true
  return false
}

function firstLine (err) {
  return String(err?.message ?? err ?? '').split('\n')[0].slice(0, 200)
}
