// `keel up`, the one command a newcomer runs: it serves the network page at its API address
// without being told where the UI is, the page turns healthy on its own (two embedded bootstraps
// that know each other), and [Run Diagnostics] on a fresh data dir passes all six steps: the
// embedded local peer is there to be discovered, and the page says which peers are local.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { closeBrowser, launchBrowser, openPage, screenshot, ui, waitText } from './lib/browser.mjs'
import { KeelNetwork, apiGet } from './lib/keel.mjs'

const net = new KeelNetwork('up')
let browser, up

before(async () => {
  up = await net.startUp('up')
  browser = await launchBrowser()
})

after(async () => {
  await closeBrowser(browser, 'keel-up')
  await net.cleanup()
})

test('keel up serves the page at its API address; healthy with its two local bootstraps', async () => {
  assert.equal(up.ui, true, '`keel up` found no built UI (ui/build.sh builds it)')
  const page = await openPage(browser, up.api)
  await ui.nodeStatus(page, 'Healthy').waitFor({ timeout: 60_000 })
  assert.equal(await page.locator('article[data-bootstrap]').count(), 2)
  // each bootstrap card says it runs in this process
  for (const label of ['local-bootstrap-1', 'local-bootstrap-2']) {
    await waitText(page.locator(`article[data-bootstrap] [data-local="${label}"]`), new RegExp(label.replaceAll('-', ' ')))
  }
  await screenshot(page, 'keel-up')
  assert.deepEqual(page.foreignRequests, [])
  assert.deepEqual(page.errors, [])
  await page.context().close()
})

test('first run: [Run Diagnostics] passes all six steps, and the page marks the local peers', async () => {
  const upEvent = up.events.find((e) => e.event === 'up')
  const localPeer = upEvent.local_peer?.peer_id
  assert.ok(localPeer, `the up line names no local peer: ${JSON.stringify(upEvent)}`)
  const page = await openPage(browser, up.api)
  await ui.nodeStatus(page, 'Healthy').waitFor({ timeout: 60_000 })
  const panel = ui.diagnostics(page)
  await panel.getByRole('button', { name: 'Run Diagnostics' }).click()
  await waitText(panel.getByRole('status'), /All 6 steps passed\./, 90_000)
  for (const id of ['routing_table', 'publish', 'fetch_remote', 'list_peers', 'reachability', 'provider_visible']) {
    const step = panel.locator(`li[data-step="${id}"]`)
    assert.equal(await step.locator('.step-icon').textContent(), '✓', `step ${id} is not checked: ${await step.textContent()}`)
    assert.ok((await step.textContent()).includes(': passed'), `step ${id}: no accessible "passed"`)
  }
  // the run joins the recent runs, with its time and each step's status
  await waitText(panel.locator('[data-recent-run="passed"]'), /✓✓✓✓✓✓ *passed, /)
  // step 4 discovered the local peer (its short ID ends the same as the full one)
  await waitText(panel.locator('li[data-step="list_peers"]'), new RegExp(`1 besides the bootstraps\\): 12D3Ko…${localPeer.slice(-6)}`))

  // the discovered peers: the local peer and both bootstraps, each marked local
  const list = page.getByRole('region', { name: /Discovered peers/ })
  await waitText(list.locator(`[data-peer="${localPeer}"] [data-local="local-peer"]`), /local peer/)
  for (const b of upEvent.bootstraps) {
    const id = b.split('/p2p/')[1]
    await waitText(list.locator(`[data-peer="${id}"] [data-local^="local-bootstrap-"]`), /local bootstrap \d/)
  }
  await waitText(list.locator('[data-local-note]'), /run inside this process \(keel up/)
  // Listening on loopback only, the node is behind "NAT": it reserves on the local bootstraps.
  await waitText(page.locator('[data-fact="reachability"] dd'), /through a relay \(behind NAT\): 127\.0\.0\.1:\d+ until \d\d:\d\d:\d\d/)
  // the API says the same
  const node = await apiGet(up, '/api/v1/node')
  assert.deepEqual(node.local_peers.map((l) => l.label), ['local-bootstrap-1', 'local-bootstrap-2', 'local-peer'])
  await screenshot(page, 'keel-up-diagnostics')
  await screenshot(page, 'keel-up-diagnostics-panel', { element: panel })
  assert.deepEqual(page.errors, [])
  await page.context().close()
})
