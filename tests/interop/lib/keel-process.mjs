// Spawning the keel binary (env KEEL_BINARY) per its CLI contract, reading its JSON lines, and
// making sure every process started here is gone at the end (killAll() in after() hooks).
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { createInterface } from 'node:readline'

const live = new Set()

/** The keel binary from env KEEL_BINARY; throws (failing the test) if unset or not executable. */
export function keelBinary () {
  const bin = process.env.KEEL_BINARY
  if (bin == null || bin === '') throw new Error('KEEL_BINARY is not set (ctest sets it to the keel target)')
  try {
    accessSync(bin, constants.X_OK)
  } catch {
    throw new Error(`KEEL_BINARY=${bin} is not an executable file: build the keel target first`)
  }
  return bin
}

/**
 * Spawns `keel ...args`. Returns { child, args, lines (every stdout line so far, drained
 * continuously so keel never blocks on a full pipe), stderr() (text so far), exited (promise of
 * {code, signal}) }.
 */
export function spawnKeel (args, { env } = {}) {
  const child = spawn(keelBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  live.add(child)
  let err = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', d => { err += d; if (err.length > 64 * 1024) err = err.slice(-32 * 1024) })
  const proc = { child, args, lines: [], stdoutClosed: false, stderr: () => err, wake: () => {} }
  const rl = createInterface({ input: child.stdout, crlfDelay: Infinity })
  rl.on('line', l => { proc.lines.push(l); proc.wake() })
  rl.on('close', () => { proc.stdoutClosed = true; proc.wake() })
  proc.exited = new Promise(resolve => {
    child.once('exit', (code, signal) => { live.delete(child); resolve({ code, signal }) })
    child.once('error', e => { live.delete(child); err += `\nspawn error: ${e.message}`; proc.stdoutClosed = true; proc.wake(); resolve({ code: -1, signal: null, error: e }) })
  })
  proc.cursor = 0
  return proc
}

function parseJsonLine (line) {
  const t = line.trim()
  if (!t.startsWith('{')) return undefined
  try { return JSON.parse(t) } catch { return undefined }
}

/** Next not-yet-returned JSON line on stdout of `proc` (other lines skipped), within `ms`. */
export async function nextJson (proc, ms = 15_000, what = 'a JSON line') {
  const deadline = Date.now() + ms
  for (;;) {
    while (proc.cursor < proc.lines.length) {
      const v = parseJsonLine(proc.lines[proc.cursor++])
      if (v !== undefined) return v
    }
    if (proc.stdoutClosed) {
      const ex = await Promise.race([proc.exited, new Promise(resolve => setTimeout(() => resolve({}), 1000))])
      throw new Error(`keel ${proc.args.join(' ')}: stdout closed before ${what} (exit ${ex.code ?? ex.signal}); stderr:\n${proc.stderr()}`)
    }
    const left = deadline - Date.now()
    if (left <= 0) throw new Error(`keel ${proc.args.join(' ')}: no ${what} within ${ms} ms; stderr:\n${proc.stderr()}`)
    let timer
    await new Promise(resolve => { proc.wake = resolve; timer = setTimeout(resolve, left) })
    clearTimeout(timer)
  }
}

/** Sends `signal`, waits up to `ms` for exit, then SIGKILL. Resolves to {code, signal}. */
export async function stopProcess (proc, { signal = 'SIGTERM', ms = 5000 } = {}) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited
  proc.child.kill(signal)
  let timer
  const r = await Promise.race([proc.exited, new Promise(resolve => { timer = setTimeout(() => resolve(null), ms) })])
  clearTimeout(timer)
  if (r != null) return r
  proc.child.kill('SIGKILL')
  return proc.exited
}

/** Kills every keel process this module started that is still running. For after() hooks. */
export async function killAll () {
  await Promise.all([...live].map(child => new Promise(resolve => {
    child.once('exit', resolve)
    child.kill('SIGKILL')
    setTimeout(resolve, 2000)
  })))
}

/**
 * Starts `keel <command> --listen /ip4/127.0.0.1/tcp/0 --json [...extraArgs]` (command: `node`, or
 * `bootstrap`) and waits for its "listening" line. Returns { proc, peerId, addrs, addr (the
 * 127.0.0.1 one, with /p2p/), event (the listening line), stop() }.
 */
export async function startKeelNode ({ command = 'node', args = [], ms = 15_000 } = {}) {
  // An ephemeral API port: several keel processes run side by side in these tests.
  const api = args.includes('--api') ? [] : ['--api', '127.0.0.1:0']
  const proc = spawnKeel([command, '--listen', '/ip4/127.0.0.1/tcp/0', '--json', ...api, ...args])
  let ev
  try {
    ev = await nextJson(proc, ms, 'listening event')
  } catch (err) {
    await stopProcess(proc, { signal: 'SIGKILL' })
    throw err
  }
  if (ev.event !== 'listening' || typeof ev.peer_id !== 'string' || !Array.isArray(ev.addrs)) {
    await stopProcess(proc, { signal: 'SIGKILL' })
    throw new Error(`keel ${command}: first JSON line is not a listening event: ${JSON.stringify(ev)}`)
  }
  const addr = ev.addrs.find(a => a.startsWith('/ip4/127.0.0.1/tcp/'))
  if (addr == null || !addr.endsWith(`/p2p/${ev.peer_id}`)) {
    await stopProcess(proc, { signal: 'SIGKILL' })
    throw new Error(`keel ${command}: no /ip4/127.0.0.1/tcp/.../p2p/${ev.peer_id} address in ${JSON.stringify(ev.addrs)}`)
  }
  return { proc, peerId: ev.peer_id, addrs: ev.addrs, addr, event: ev, stop: (o) => stopProcess(proc, o) }
}

/**
 * Runs `keel ...args` to completion (killed after `ms`). Returns { code, signal, result (its last
 * JSON line), stdout, stderr }.
 */
export async function runKeel (args, { ms = 30_000 } = {}) {
  const proc = spawnKeel(args)
  let timer
  const ex = await Promise.race([proc.exited, new Promise(resolve => { timer = setTimeout(() => resolve(null), ms) })])
  clearTimeout(timer)
  const stdout = () => proc.lines.join('\n')
  if (ex == null) {
    await stopProcess(proc, { signal: 'SIGKILL' })
    throw new Error(`keel ${args.join(' ')}: still running after ${ms} ms; stdout:\n${stdout()}\nstderr:\n${proc.stderr()}`)
  }
  // 'exit' can come before the last stdout data: wait (bounded) for stdout to close
  const until = Date.now() + 2000
  while (!proc.stdoutClosed && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
  const jsons = proc.lines.map(parseJsonLine).filter(v => v !== undefined)
  return { code: ex.code, signal: ex.signal, result: jsons.at(-1) ?? null, stdout: stdout(), stderr: proc.stderr() }
}

/**
 * Runs `keel ping ADDR --json ...args` to completion (killed after `ms`). Returns
 * { code, signal, result (its last JSON line), stdout, stderr }.
 */
export function runKeelPing (addr, { args = [], ms = 30_000 } = {}) {
  return runKeel(['ping', addr, '--json', ...args], { ms })
}

/**
 * Runs `keel dht OP ...args --bootstrap B... --json [...extra]` (one DHT operation from a
 * short-lived client node). Returns { code, result (its JSON object), stdout, stderr }.
 */
export function runKeelDht (op, args, { bootstrap = [], extra = [], ms = 30_000 } = {}) {
  const boot = [bootstrap].flat().flatMap(b => ['--bootstrap', b])
  return runKeel(['dht', op, ...args, ...boot, '--json', ...extra], { ms })
}
