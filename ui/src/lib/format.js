// Small display helpers shared by the components.

/** "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…" → "127.0.0.1:4001" (else the address itself). */
export function hostPort (addr) {
  const m = /^\/(?:ip4|ip6|dns4|dns6|dns|dnsaddr)\/([^/]+)(?:\/tcp\/(\d+))?/.exec(addr ?? '')
  if (!m) return addr ?? ''
  const host = addr.startsWith('/ip6/') ? `[${m[1]}]` : m[1]
  return m[2] ? `${host}:${m[2]}` : host
}

/** The peer ID at the end of a multiaddr, if any. */
export function peerOf (addr) {
  const m = /\/p2p\/([^/]+)$/.exec(addr ?? '')
  return m ? m[1] : null
}

/** "12D3KooWAbc…xyz9" */
export function shortId (id) {
  if (!id) return '—'
  return id.length > 16 ? `${id.slice(0, 10)}…${id.slice(-6)}` : id
}

/** Latency class per the brief: < 100 ms good, < 300 ms fair, else poor. */
export function latencyClass (ms) {
  if (ms == null) return null
  if (ms < 100) return 'good'
  if (ms < 300) return 'fair'
  return 'poor'
}

export function ms (value) {
  if (value == null) return '—'
  if (value < 10) return `${value.toFixed(1)} ms`
  if (value < 10_000) return `${Math.round(value)} ms`
  return `${(value / 1000).toFixed(1)} s`
}

/** Wall-clock epoch ms → "just now", "12 s ago", "3 min ago". */
export function ago (epochMs, now) {
  if (!epochMs) return 'never'
  const s = Math.max(0, Math.round((now - epochMs) / 1000))
  if (s < 2) return 'just now'
  if (s < 90) return `${s} s ago`
  if (s < 5400) return `${Math.round(s / 60)} min ago`
  return `${Math.round(s / 3600)} h ago`
}

/** Wall-clock epoch ms in the future → "in 4 s", "now". */
export function until (epochMs, now) {
  const s = Math.round((epochMs - now) / 1000)
  if (s <= 0) return 'now'
  if (s < 90) return `in ${s} s`
  return `in ${Math.round(s / 60)} min`
}

export function clock (epochMs) {
  return epochMs ? new Date(epochMs).toLocaleTimeString([], { hour12: false }) : '—'
}

/** "security: deadline exceeded (/ip4/…)" → "deadline exceeded": the phase and address are shown apart. */
export function errorText (error, phase) {
  let e = (error ?? '').trim()
  if (phase && e.startsWith(`${phase}: `)) e = e.slice(phase.length + 2)
  return e.replace(/ \(\/[^()]*\)$/, '')
}

/** A deadline, not a refusal: the peer accepted TCP and then said nothing in time. */
export function isTimeout (error) {
  return /deadline exceeded|timed? ?out/i.test(error ?? '')
}

export const stateLabel = {
  connecting: 'Connecting',
  healthy: 'Healthy',
  degraded: 'Degraded',
  down: 'Down'
}

/** What each failed phase means and what to do (docs/user-guide.md, Troubleshooting). */
export const phaseHelp = {
  dial: 'TCP did not connect: nothing listens there, the host is unreachable, or DNS failed. Check the address and that the bootstrap is running.',
  security: 'TCP connected but the encrypted handshake never finished: the process is frozen or overloaded, is not libp2p, or another peer answered.',
  muxer: 'The peer does not speak Yamux.',
  identify: 'The connection came up but identify never answered: the peer is overloaded.',
  protocol: 'Connected, but the peer refused the protocol: check that both sides use the same network profile.'
}
