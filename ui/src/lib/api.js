// The daemon's HTTP API (docs/api.md), same origin as the page.

export class ApiError extends Error {
  constructor (status, message) {
    super(message)
    this.status = status
  }
}

/** One request; resolves to the parsed JSON answer, throws ApiError on a non-2xx status. */
export async function api (method, path, body) {
  const init = { method, headers: {} }
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(path, init)
  } catch (e) {
    throw new ApiError(0, `the daemon did not answer (${e.message})`)
  }
  let json = null
  try {
    json = await res.json()
  } catch {
    // not JSON
  }
  if (!res.ok) throw new ApiError(res.status, json?.error ?? `HTTP ${res.status}`)
  return json
}

export const get = (path) => api('GET', path)
export const post = (path, body) => api('POST', path, body)
