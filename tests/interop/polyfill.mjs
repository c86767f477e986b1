// Fallback only (run-node.sh uses it when node_modules/.bin/node, Node 22, is missing): js-libp2p 3
// needs Promise.withResolvers (Node >= 22). Loaded with `node --import ./polyfill.mjs` on Node 20.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
