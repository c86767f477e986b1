// A logging TCP proxy in front of a daemon's control endpoint (KEEL_INTEROP_TRACE): the client
// talks to the proxy, the proxy forwards every byte unchanged and logs each varint-length-prefixed
// message decoded with @libp2p/daemon-protocol: Request (client → daemon), Response, and after a
// DHT Response{dht: BEGIN} the bare DHTResponse messages until END. After STREAM_OPEN's Response
// the connection is a raw libp2p stream (bytes are logged as hex). STREAM_HANDLER is the one
// rewrite: its callback address is replaced by a second proxy's, so that the daemon's callback
// connection (StreamInfo, then the raw stream) is logged too; the original request is what is logged.
import { appendFileSync } from 'node:fs'
import net from 'node:net'
import { DHTResponse, Request, Response, StreamInfo } from '@libp2p/daemon-protocol'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'

/** Writes one trace line to stderr (KEEL_INTEROP_TRACE=1) or appends it to the file it names. */
export function traceSink (setting) {
  if (setting == null || setting === '' || setting === '0') return undefined
  if (setting === '1' || setting === 'stderr') return line => process.stderr.write(line + '\n')
  return line => appendFileSync(setting, line + '\n')
}

const hex = (b, max = 48) => Buffer.from(b).toString('hex').slice(0, max * 2) + (b.length > max ? `…(${b.length} bytes)` : '')

function fmtBytes (name, b) {
  try {
    if (name === 'peer' || name === 'id' || name === 'from') return peerIdFromMultihash(Digest.decode(b)).toString()
    if (name === 'addrs' || name === 'addr') return multiaddr(b).toString()
    if (name === 'cid') return CID.decode(b).toString()
    if (name === 'key') {
      const s = Buffer.from(b)
      if (s.subarray(0, 4).toString() === '/pk/') return `"/pk/" + ${hex(s.subarray(4))} (${b.length} bytes)`
    }
  } catch {}
  return `${hex(b)}${b.length <= 48 ? ` (${b.length} bytes)` : ''}`
}

/** A decoded protons message as compact JSON-ish text, bytes shown by field name. */
export function fmt (obj, name = '') {
  if (obj instanceof Uint8Array) return fmtBytes(name, obj)
  if (Array.isArray(obj)) return '[' + obj.map(v => fmt(v, name)).join(', ') + ']'
  if (obj != null && typeof obj === 'object') {
    const parts = []
    for (const [k, v] of Object.entries(obj)) {
      if (v == null || (Array.isArray(v) && v.length === 0)) continue
      parts.push(`${k}: ${fmt(v, k)}`)
    }
    return '{' + parts.join(', ') + '}'
  }
  return typeof obj === 'string' ? obj : String(obj)
}

/** Splits varint-length-prefixed frames off the front of `buf`; returns { frames, rest }. */
function frames (buf) {
  const out = []
  let pos = 0
  for (;;) {
    let len = 0; let shift = 0; let i = pos
    for (; i < buf.length; i++) {
      len += (buf[i] & 0x7f) * 2 ** shift
      shift += 7
      if ((buf[i] & 0x80) === 0) break
    }
    if (i >= buf.length || i + 1 + len > buf.length) break
    out.push({ body: buf.subarray(i + 1, i + 1 + len), end: i + 1 + len })
    pos = i + 1 + len
  }
  return { frames: out, rest: buf.subarray(pos) }
}

function lpEncode (body) {
  const len = []
  let n = body.length
  do { len.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)); n = Math.floor(n / 128) } while (n > 0)
  return Buffer.concat([Buffer.from(len), Buffer.from(body)])
}

const decodeOr = (codec, body) => { try { return fmt(codec.decode(body)) } catch (err) { return `undecodable (${err.message}): ${hex(body)}` } }
const STREAMING_DHT = new Set(['FIND_PROVIDERS', 'GET_CLOSEST_PEERS', 'SEARCH_VALUE'])

/**
 * @param {{ host: string, port: number }} target the daemon's control endpoint
 * @param {string} label shown on every line (e.g. "go#3")
 * @param {(line: string) => void} log
 * @returns {Promise<{ addr: string, close: () => void }>} addr: the proxy's multiaddr for the client
 */
export async function startTraceProxy (target, label, log) {
  const servers = []
  const sockets = new Set()
  let conns = 0
  const track = s => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}) }
  const listen = async (srv) => {
    servers.push(srv)
    await new Promise((resolve, reject) => { srv.once('error', reject); srv.listen(0, '127.0.0.1', resolve) })
    return srv.address().port
  }

  /** A proxy for a STREAM_HANDLER callback address: logs the daemon's StreamInfo and the stream. */
  async function callbackProxy (realAddr, tag) {
    const [, host, rport] = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(multiaddr(realAddr).toString()) ?? []
    const real = { host, port: Number(rport) }
    const port = await listen(net.createServer(fromDaemon => {
      track(fromDaemon)
      const toClient = net.connect(real.port, real.host)
      track(toClient)
      const t = `${tag} callback`
      log(`[trace ${label} ${t}] daemon connected to the handler address ${multiaddr(realAddr)}`)
      let buf = Buffer.alloc(0); let raw = false
      fromDaemon.on('data', chunk => {
        toClient.write(chunk)
        if (raw) { log(`[trace ${label} ${t}] ⇐ raw ${hex(chunk)}`); return }
        buf = Buffer.concat([buf, chunk])
        const { frames: fs, rest } = frames(buf)
        if (fs.length > 0) {
          log(`[trace ${label} ${t}] ⇐ StreamInfo ${decodeOr(StreamInfo, fs[0].body)}`)
          raw = true
          if (buf.length > fs[0].end) log(`[trace ${label} ${t}] ⇐ raw ${hex(buf.subarray(fs[0].end))}`)
        } else buf = rest
      })
      toClient.on('data', chunk => { fromDaemon.write(chunk); log(`[trace ${label} ${t}] ⇒ raw ${hex(chunk)}`) })
      fromDaemon.on('end', () => { log(`[trace ${label} ${t}] daemon closed its side`); toClient.end() })
      toClient.on('end', () => { log(`[trace ${label} ${t}] handler closed its side`); fromDaemon.end() })
      fromDaemon.on('close', () => toClient.destroy())
      toClient.on('close', () => fromDaemon.destroy())
    }))
    return multiaddr(`/ip4/127.0.0.1/tcp/${port}`).bytes
  }

  const port = await listen(net.createServer(client => {
    const tag = `c${++conns}`
    track(client)
    const up = net.connect(target.port, target.host)
    track(up)
    const state = { req: undefined }
    up.once('error', err => { log(`[trace ${label} ${tag}] daemon connection failed: ${err.message}`); client.destroy() })

    // client → daemon: Requests (the first one decides how the rest is read)
    ;(async () => {
      let buf = Buffer.alloc(0); let raw = false
      for await (const chunk of client) {
        if (raw) { up.write(chunk); log(`[trace ${label} ${tag}] → raw ${hex(chunk)}`); continue }
        buf = Buffer.concat([buf, chunk])
        const { frames: fs } = frames(buf)
        let used = 0
        for (const f of fs) {
          used = f.end
          let body = f.body
          let req
          try { req = Request.decode(body) } catch (err) { log(`[trace ${label} ${tag}] → undecodable Request (${err.message}): ${hex(body)}`); up.write(lpEncode(body)); continue }
          state.req = req
          log(`[trace ${label} ${tag}] → ${req.type}${req.dht != null ? '/' + req.dht.type : ''} ${fmt(req)}`)
          if (req.type === 'STREAM_HANDLER' && req.streamHandler?.addr != null) {
            const addr = await callbackProxy(req.streamHandler.addr, tag)
            body = Request.encode({ ...req, streamHandler: { ...req.streamHandler, addr } })
          }
          up.write(lpEncode(body))
          if (req.type === 'STREAM_OPEN') { raw = true; break }
        }
        buf = buf.subarray(used)
        if (raw && buf.length > 0) { up.write(buf); log(`[trace ${label} ${tag}] → raw ${hex(buf)}`); buf = Buffer.alloc(0) }
      }
      log(`[trace ${label} ${tag}] client closed its side`)
      up.end()
    })().catch(() => { client.destroy(); up.destroy() })

    // daemon → client: forwarded as is; decoded for the log
    let buf = Buffer.alloc(0); let raw = false; let dhtStream = false
    up.on('data', chunk => {
      client.write(chunk)
      if (raw) { log(`[trace ${label} ${tag}] ← raw ${hex(chunk)}`); return }
      buf = Buffer.concat([buf, chunk])
      const { frames: fs } = frames(buf)
      let used = 0
      for (const f of fs) {
        used = f.end
        if (dhtStream) {
          let m
          try { m = DHTResponse.decode(f.body) } catch {}
          log(`[trace ${label} ${tag}] ← DHTResponse ${decodeOr(DHTResponse, f.body)}`)
          if (m?.type === 'END') dhtStream = false
          continue
        }
        let r
        try { r = Response.decode(f.body) } catch {}
        log(`[trace ${label} ${tag}] ← Response ${decodeOr(Response, f.body)}`)
        if (state.req?.type === 'STREAM_OPEN' && r?.type === 'OK') { raw = true; break }
        if (state.req?.type === 'DHT' && STREAMING_DHT.has(state.req.dht?.type) && r?.dht?.type === 'BEGIN') dhtStream = true
      }
      buf = buf.subarray(used)
      if (raw && buf.length > 0) { log(`[trace ${label} ${tag}] ← raw ${hex(buf)}`); buf = Buffer.alloc(0) }
    })
    up.on('end', () => { log(`[trace ${label} ${tag}] daemon closed its side`); client.end() })
    client.on('close', () => up.destroy())
    up.on('close', () => client.destroy())
  }))

  return {
    addr: `/ip4/127.0.0.1/tcp/${port}`,
    close: () => {
      for (const s of servers) s.close()
      for (const s of sockets) s.destroy()
    }
  }
}
