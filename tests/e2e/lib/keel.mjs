// Real keel processes for the end-to-end tests: `keel bootstrap` and `keel node --ui-dir`, on
// 127.0.0.1 with port 0 everywhere (the real addresses come from the `listening` JSON line), each
// with its own --data-dir under a per-test temp dir and its stderr in a log file there. Every
// process started here is killed by cleanup() (call it in after()); the temp dir is removed unless
// KEEL_E2E_KEEP=1. Nothing sleeps to wait for a condition: waits poll with a deadline.
import { spawn } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** The keel binary: $KEEL_BINARY (ctest sets it), else build/dev/keel. */
export function keelBinary () {
  const bin = process.env.KEEL_BINARY || join(repoRoot, 'build/dev/keel')
  try {
    accessSync(bin, constants.X_OK)
  } catch {
    throw new Error(`keel binary ${bin} is not executable: build the keel target (or set KEEL_BINARY)`)
  }
  return bin
}

/** The built web UI: $KEEL_UI_DIR, else ui/dist (ui/build.sh builds it). */
export function uiDir () {
  const dir = process.env.KEEL_UI_DIR || join(repoRoot, 'ui/dist')
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`${dir}/index.html is missing: run ui/build.sh`)
  return dir
}

/** Polls `cond` (sync or async) every `every` ms until it returns a truthy value; throws after `ms`. */
export async function waitFor (cond, { ms = 30_000, every = 100, what = 'a condition' } = {}) {
  const deadline = Date.now() + ms
  let last
  for (;;) {
    try {
      const v = await cond()
      if (v) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, every)) // the polling interval
  }
}

export class KeelNetwork {
  constructor (name) {
    this.dir = mkdtempSync(join(tmpdir(), `keel-e2e-${name}-`))
    this.procs = []
  }

  path (...parts) {
    return join(this.dir, ...parts)
  }

  /** A TOML config file in the temp dir; returns its path. */
  config (name, text) {
    const file = this.path(`${name}.toml`)
    writeFileSync(file, text)
    return file
  }

  /** Spawns `keel ...args` and waits for its `listening` line (or the line `ready` matches). */
  async spawn (name, args, ready = (e) => e.event === 'listening') {
    const log = this.path(`${name}.log`)
    const fd = openSync(log, 'a')
    const child = spawn(keelBinary(), args, { stdio: ['ignore', 'pipe', fd] })
    closeSync(fd)
    const proc = { name, args, child, log, events: [], exited: null, wake: () => {} }
    proc.exited = new Promise((resolve) => child.once('exit', (code, signal) => { proc.wake(); resolve({ code, signal }) }))
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      if (!line.startsWith('{')) return
      try {
        proc.events.push(JSON.parse(line))
      } catch {
        return
      }
      proc.wake()
    })
    this.procs.push(proc)
    const listening = await this.waitEvent(proc, ready, 20_000)
    proc.peerId = listening.peer_id
    proc.addr = listening.addrs.find((a) => a.startsWith('/ip4/127.0.0.1/')) ?? listening.addrs[0]
    proc.api = listening.api
    return proc
  }

  /** The first JSON line of `proc` matching `match`, within `ms`. */
  async waitEvent (proc, match, ms = 30_000) {
    const deadline = Date.now() + ms
    for (let next = 0; ;) {
      for (; next < proc.events.length; ++next) if (match(proc.events[next])) return proc.events[next]
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`keel ${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}); log: ${proc.log}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`keel ${proc.name}: no matching event within ${ms} ms; log: ${proc.log}`)
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left)
        proc.wake = () => { clearTimeout(timer); resolve() }
      })
    }
  }

  /** `keel bootstrap` with an API (to watch its routing table); `listen` and `dataDir` for restarts. */
  startBootstrap (name, { peers = [], listen = '/ip4/127.0.0.1/tcp/0', dataDir = this.path(name) } = {}) {
    const args = ['bootstrap', '--listen', listen, '--data-dir', dataDir, '--api', '127.0.0.1:0', '--json', '--log-level', 'debug']
    for (const p of peers) args.push('--bootstrap', p)
    return this.spawn(name, args)
  }

  /** `keel node` serving the web UI on an ephemeral API port. */
  startNode (name, { bootstraps = [], config } = {}) {
    const args = ['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', this.path(name), '--api', '127.0.0.1:0',
      '--ui-dir', uiDir(), '--json', '--log-level', 'debug']
    if (config) args.push('--config', config)
    for (const b of bootstraps) args.push('--bootstrap', b)
    return this.spawn(name, args)
  }

  /**
   * `keel up` on ephemeral ports, without --ui-dir: it must find the UI built in this checkout.
   * Resolves once its `up` line is out (proc.ui: whether it serves the UI).
   */
  async startUp (name) {
    const proc = await this.spawn(name, ['up', '--local-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0',
      '--data-dir', this.path(name), '--json', '--log-level', 'debug'], (e) => e.event === 'up')
    proc.ui = proc.events.find((e) => e.event === 'up').ui
    return proc
  }

  /** Two bootstraps that know each other (each in the other's routing table). */
  async startBootstrapPair (prefix = 'b') {
    const b1 = await this.startBootstrap(`${prefix}1`)
    const b2 = await this.startBootstrap(`${prefix}2`, { peers: [b1.addr] })
    for (const b of [b1, b2]) {
      await waitFor(async () => (await apiGet(b, '/api/v1/dht/routing-table')).size >= 1,
        { what: `${b.name}'s routing table to have the other bootstrap` })
    }
    return [b1, b2]
  }

  /** Kills `proc` with SIGKILL and waits for it to be gone. */
  async kill (proc) {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGCONT')
      proc.child.kill('SIGKILL')
    }
    return proc.exited
  }

  async cleanup () {
    await Promise.all(this.procs.map((p) => this.kill(p)))
    if (process.env.KEEL_E2E_KEEP === '1') {
      console.log(`# kept ${this.dir}`)
      return
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export async function apiGet (proc, path) {
  const res = await fetch(proc.api + path, { signal: AbortSignal.timeout(10_000) })
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`)
  return res.json()
}

/** Waits until the node's own health API says `state` (the page is checked separately). */
export function waitNodeState (proc, state, ms = 60_000) {
  return waitFor(async () => (await apiGet(proc, '/api/v1/bootstrap/health')).node_state === state,
    { ms, what: `${proc.name} to be ${state}` })
}
