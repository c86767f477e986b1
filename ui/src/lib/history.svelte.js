// The history behind the charts (GET /api/v1/history, docs/api.md): read once per range, then
// kept live by the event stream's `history` points (the hour's range only: the day's points are
// minutes folded by the daemon, read again when that range is chosen).
import { get } from './api.js'

export const hist = $state({ range: '1h', data: null, error: '' })

export async function loadHistory (range = hist.range) {
  try {
    const data = await get(`/api/v1/history?range=${range}`)
    hist.range = range
    hist.data = data
    hist.error = ''
  } catch (e) {
    hist.error = e.message
  }
}

const HOUR_MS = 3600 * 1000

/** A `history` event: one new point (the 1h range only). */
export function addHistoryPoint (point) {
  const d = hist.data
  if (!d || hist.range !== '1h') return
  d.points.push(point)
  while (d.points.length > 0 && d.points[0].t < point.t - HOUR_MS) d.points.shift()
}

/** A bootstrap's state changed (a `health` event): the chart marks it at once. */
export function addHistoryMark (addr, from, to, t = Date.now()) {
  const d = hist.data
  if (!d || from === to) return
  let i = d.bootstraps.indexOf(addr)
  if (i < 0) {
    d.bootstraps.push(addr)
    i = d.bootstraps.length - 1
  }
  d.marks.push({ t, i, from, to })
}

/**
 * One bootstrap's series from the history: times (s), latency (ms or null), and its state per
 * point; the seconds it spent down; its reconnects (down, then healthy).
 */
export function bootstrapSeries (data, index) {
  const t = []
  const latency = []
  const states = []
  let downMs = 0
  for (const p of data.points) {
    const b = p.bootstraps.find((x) => x.i === index)
    if (!b) continue
    t.push(p.t / 1000)
    latency.push(b.latency_ms)
    states.push(b.state)
    if (b.state === 'down') downMs += data.step_ms
  }
  const marks = data.marks.filter((m) => m.i === index)
  const reconnects = marks.filter((m) => m.to === 'healthy' && m.from === 'down')
  return { t, latency, states, downSeconds: Math.round(downMs / 1000), marks, reconnects }
}

/**
 * The load on this process from the history's totals: per point, connections and the rates
 * (per second, since the previous point) of new connections, refusals and DHT requests served;
 * with the peaks and the most memory seen.
 */
export function loadSeries (data) {
  const t = []
  const connections = []
  const accepted = []
  const refused = []
  const dht = []
  let peakConnections = 0
  let peakAccepted = 0
  let peakRss = 0
  let prev = null
  for (const p of data.points) {
    const dt = prev ? (p.t - prev.t) / 1000 : 0
    const rate = (now, before) => (prev && dt > 0 ? Math.max(0, now - before) / dt : null)
    t.push(p.t / 1000)
    connections.push(p.connections)
    accepted.push(rate(p.inbound_accepted, prev?.inbound_accepted))
    refused.push(rate(p.inbound_refused, prev?.inbound_refused))
    dht.push(rate(p.dht_requests_served, prev?.dht_requests_served))
    peakConnections = Math.max(peakConnections, p.connections)
    peakAccepted = Math.max(peakAccepted, accepted.at(-1) ?? 0)
    peakRss = Math.max(peakRss, p.rss_bytes)
    prev = p
  }
  // What the range added to each split total: refusals by limit, DHT requests by type.
  const grew = (key) => {
    const first = data.points[0]?.[key] ?? {}
    const last = data.points.at(-1)?.[key] ?? {}
    return Object.entries(last).map(([k, v]) => [k, v - (first[k] ?? 0)]).filter(([, v]) => v > 0)
  }
  const rssMiB = data.points.map((p) => p.rss_bytes / 1048576)
  // A relay server's use in the range: the most reservations and circuits, the bytes it passed on.
  const relayPoints = data.points.filter((p) => p.relay)
  const relay = {
    reservations: Math.max(0, ...relayPoints.map((p) => p.relay.reservations)),
    circuits: Math.max(0, ...relayPoints.map((p) => p.relay.circuits)),
    bytes: relayPoints.length ? relayPoints.at(-1).relay.bytes - relayPoints[0].relay.bytes : 0
  }
  return {
    relay,
    t, connections, accepted, refused, dht, rssMiB,
    peakConnections, peakAccepted: Math.round(peakAccepted), peakRssMiB: peakRss / 1048576,
    refusedByReason: grew('inbound_refused_by_reason'),
    dhtByType: grew('dht_served_by_type')
  }
}
