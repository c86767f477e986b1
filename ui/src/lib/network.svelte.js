// The page's state: loaded once from the API, then kept live by the daemon's event stream
// (GET /api/v1/events, Server-Sent Events). An event either carries what changed or triggers one
// read of the resource it concerns; nothing here polls. After the stream reconnects (the daemon
// restarted, the laptop slept) or reports dropped events, everything is read again.
import { ApiError, get, post } from './api.js'
import { errorText } from './format.js'
import { addHistoryMark, addHistoryPoint, loadHistory } from './history.svelte.js'

export const MAX_PEERS_SHOWN = 200

// The six verification steps (docs/discovery-verification.md), shown before a run reports them.
export const STEP_TITLES = [
  ['routing_table', 'routing table populated'],
  ['publish', 'publish test record'],
  ['fetch_remote', 'fetch test record from another peer'],
  ['list_peers', 'list discovered peers'],
  ['reachability', 'bidirectional reachability'],
  ['provider_visible', 'provider record visible']
]

const pendingSteps = () =>
  STEP_TITLES.map(([id, title]) => ({ id, title, status: 'pending', duration_ms: 0, detail: '', remedy: '' }))

/**
 * A finished run's verdict, as the API's `result`: 'passed' (every step passed),
 * 'not_enough_peers' (none failed, but the network is too small to check some) or 'failed'.
 */
export function runResult (steps) {
  if (steps.some((s) => s.status !== 'passed' && s.status !== 'not_enough_peers')) return 'failed'
  return steps.some((s) => s.status === 'not_enough_peers') ? 'not_enough_peers' : 'passed'
}

/** The peer's entry in GET /api/v1/node's local_peers (keel up runs it in its process), or null. */
export function localPeer (peerId) {
  return net.node?.local_peers?.find((l) => l.peer_id === peerId) ?? null
}

export const net = $state({
  stream: 'connecting', // connecting | live | lost: the event stream to the daemon
  loadError: '',
  node: null, // GET /api/v1/node
  selfProbe: null, // a bootstrap's last probe of itself (GET /api/v1/node, then `self_probe` events)
  nodeState: 'connecting',
  routingTableSize: 0,
  bootstraps: [], // GET /api/v1/bootstrap/health's list, kept live by `health` events
  peers: [], // most recent first: {peer_id, connected, direction, addrs, agent_version, local, label, seen}
  // result: null while none has finished, else runResult's verdict
  diagnostics: { runId: 0, running: false, steps: pendingSteps(), ok: null, result: null, error: '', started: false },
  recentRuns: [], // newest first: {run_id, finished_ms, duration_ms, result, statuses}
  retry: {}, // addr → {pending, message}
  backup: {}, // addr → {pending, ok, message}
  now: Date.now()
})

// ---- loading -------------------------------------------------------------------------------

async function loadNode () {
  const node = await get('/api/v1/node')
  net.node = node
  net.selfProbe = node.self_probe ?? null
  net.nodeState = node.state
  net.routingTableSize = node.routing_table_size
}

async function loadHealth () {
  const h = await get('/api/v1/bootstrap/health')
  net.nodeState = h.node_state
  net.routingTableSize = h.routing_table_size
  net.bootstraps = h.bootstraps
}

async function loadPeers () {
  const started = Date.now()
  const { peers } = await get('/api/v1/peers')
  const byId = new Map(peers.map((p) => [p.peer_id, p]))
  // Keep our order (most recent first); update what we have, drop what the daemon forgot, then
  // append peers we had not heard of.
  const kept = []
  for (const p of net.peers) {
    const fresh = byId.get(p.peer_id)
    if (!fresh) {
      if (p.seen > started) kept.push(p)
      continue
    }
    // an event that arrived while the answer was on its way is newer than the answer
    kept.push(p.seen > started ? { ...fresh, ...p } : { ...p, ...fresh })
    byId.delete(p.peer_id)
  }
  for (const p of byId.values()) kept.push({ ...p, seen: 0 })
  net.peers = kept
}

async function loadDiagnostics () {
  const d = await get('/api/v1/diagnostics')
  net.recentRuns = d.recent ?? []
  if (d.run_id === 0) return
  const steps = pendingSteps()
  for (const [i, s] of d.steps.entries()) if (i < steps.length) steps[i] = s
  const finished = !d.running && d.steps.length > 0
  const result = finished ? runResult(d.steps) : null
  net.diagnostics = {
    runId: d.run_id,
    running: d.running,
    steps,
    ok: finished ? result === 'passed' : null,
    result,
    error: '',
    started: true
  }
}

export async function loadAll () {
  try {
    loadHistory() // its own error line: the page works without it
    await Promise.all([loadNode(), loadHealth(), loadPeers(), loadDiagnostics()])
    net.loadError = ''
  } catch (e) {
    net.loadError = e.message
  }
}

// At most one read per `gap` ms however many events ask for it (the last request is always
// honoured): a busy network produces many events, not many requests.
function throttled (fn, gap) {
  let timer = null
  let last = 0
  return () => {
    if (timer) return
    timer = setTimeout(() => {
      timer = null
      last = Date.now()
      fn().catch((e) => { net.loadError = e.message })
    }, Math.max(100, last + gap - Date.now()))
  }
}
const refreshHealth = throttled(loadHealth, 500)
const refreshPeers = throttled(async () => {
  await Promise.all([loadPeers(), loadNode()])
}, 2000)

// ---- events --------------------------------------------------------------------------------

function upsertPeer (fields) {
  const i = net.peers.findIndex((p) => p.peer_id === fields.peer_id)
  const old = i >= 0 ? net.peers[i] : { addrs: [] }
  if (i >= 0) net.peers.splice(i, 1)
  net.peers.unshift({ ...old, ...fields, seen: Date.now() })
}

const handlers = {
  health (e) {
    const i = net.bootstraps.findIndex((b) => b.addr === e.addr)
    const { previous, node_state: nodeState, reconnect_attempt: attempt, ...health } = e
    const reconnect = {
      ...(i >= 0 ? net.bootstraps[i].reconnect : {}),
      active: health.state !== 'healthy',
      attempt
    }
    if (i >= 0) net.bootstraps[i] = { ...net.bootstraps[i], ...health, reconnect }
    else net.bootstraps.push({ ...health, reconnect, probes: 0 })
    net.nodeState = nodeState
    addHistoryMark(e.addr, previous, health.state)
    if (net.retry[e.addr]?.pending) {
      net.retry[e.addr] = {
        pending: false,
        message: health.state === 'healthy' ? 'Reconnected.' : `Still ${health.state}: ${health.failed_phase ? `${health.failed_phase} phase, ` : ''}${errorText(health.last_error, health.failed_phase)}.`
      }
    }
    refreshHealth() // the reconnect schedule (next attempt) and the routing table size
  },
  peer_connected (e) {
    upsertPeer({ peer_id: e.peer_id, connected: true, direction: e.direction, last_addr: e.addr })
  },
  peer_disconnected (e) {
    // Another connection to the same peer may remain: the refresh tells.
    upsertPeer({ peer_id: e.peer_id, connected: false, last_addr: e.addr })
    refreshPeers()
  },
  peer_discovered (e) {
    upsertPeer(e)
  },
  verification (e) {
    const d = net.diagnostics
    if (e.run_id < d.runId) return
    if (e.run_id > d.runId) {
      net.diagnostics = { runId: e.run_id, running: true, steps: pendingSteps().slice(0, e.of), ok: null, result: null, error: '', started: true }
    }
    const { run_id: _r, index, of: _o, ...step } = e
    net.diagnostics.steps[index] = step
    net.diagnostics.running = true
  },
  verification_done (e) {
    if (e.run_id < net.diagnostics.runId) return
    net.diagnostics = { runId: e.run_id, running: false, steps: e.steps, ok: e.ok, result: e.result ?? runResult(e.steps), error: '', started: true }
    if (!net.recentRuns.some((r) => r.run_id === e.run_id)) {
      net.recentRuns = [{ run_id: e.run_id, finished_ms: e.finished_ms, duration_ms: e.duration_ms, result: e.result, statuses: e.steps.map((s) => s.status) }, ...net.recentRuns].slice(0, 20)
    }
  },
  history (e) {
    addHistoryPoint(e)
  },
  self_probe (e) {
    net.selfProbe = e
  },
  reachability (e) {
    if (net.node) net.node = { ...net.node, reachability: e }
  },
  dropped () {
    loadAll()
  }
}

let source = null

export function connect () {
  if (source) return
  let opened = false
  source = new EventSource('/api/v1/events')
  source.addEventListener('open', () => {
    net.stream = 'live'
    // Whatever happened while we were not listening: read it all again.
    if (opened) loadAll()
    opened = true
  })
  source.addEventListener('error', () => {
    net.stream = source.readyState === EventSource.CLOSED ? 'lost' : 'connecting'
  })
  for (const [type, handle] of Object.entries(handlers)) {
    source.addEventListener(type, (msg) => {
      let data
      try {
        data = JSON.parse(msg.data)
      } catch {
        return
      }
      handle(data)
    })
  }
  setInterval(() => { net.now = Date.now() }, 1000) // the clock for "3 s ago", not a poll
}

// ---- actions -------------------------------------------------------------------------------

/** [Retry]: probe (and redial) every bootstrap now; the answer arrives as `health` events. */
export async function retry (addr) {
  net.retry[addr] = { pending: true, message: 'Probing again…' }
  try {
    await post('/api/v1/bootstrap/health/check')
  } catch (e) {
    net.retry[addr] = { pending: false, message: `Retry failed: ${e.message}` }
  }
}

/** The bootstrap after `addr` in the list (wrapping), or null when there is no other. */
export function backupFor (addr) {
  const list = net.bootstraps
  const i = list.findIndex((b) => b.addr === addr)
  if (list.length < 2 || i < 0) return null
  return list[(i + 1) % list.length].addr
}

/** [Use Backup]: connect to the next bootstrap now. */
export async function useBackup (addr) {
  const target = backupFor(addr)
  if (!target) return
  net.backup[addr] = { pending: true, target, message: 'Connecting to the backup…' }
  try {
    const r = await post('/api/v1/connect', { addr: target })
    net.backup[addr] = r.ok
      ? { pending: false, ok: true, target, message: `Connected to the backup in ${Math.round(r.elapsed_ms)} ms.` }
      : { pending: false, ok: false, target, message: `The backup failed too: ${r.phase} phase, ${errorText(r.error, r.phase)}.` }
  } catch (e) {
    net.backup[addr] = { pending: false, ok: false, target, message: `Could not ask the daemon: ${e.message}` }
  }
}

/** [Run Diagnostics]: the run's progress arrives as `verification` events. */
export async function runDiagnostics () {
  net.diagnostics.error = ''
  try {
    const r = await post('/api/v1/diagnostics')
    if (r.run_id > net.diagnostics.runId) {
      net.diagnostics = { runId: r.run_id, running: true, steps: pendingSteps(), ok: null, result: null, error: '', started: true }
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) {
      net.diagnostics.running = true
      net.diagnostics.error = 'A run is already going; its progress shows here.'
    } else {
      net.diagnostics.error = e.message
    }
  }
}

export async function publishKey (key) {
  return post('/api/v1/providers', { key })
}

export async function findProviders (key) {
  return post('/api/v1/providers/find', { key })
}
