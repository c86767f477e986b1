// The node's only bootstrap is killed: the page turns degraded (the routing table still has the
// other bootstrap, learned through the DHT) and shows the automatic reconnect (attempt number,
// next attempt); the bootstrap restarts with the same --data-dir and port (same peer ID and
// address) and the page turns healthy again on its own.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { closeBrowser, launchBrowser, openPage, screenshot, ui, waitText } from './lib/browser.mjs'
import { KeelNetwork, waitNodeState } from './lib/keel.mjs'

const net = new KeelNetwork('degraded')
let browser, b1, b2, node

before(async () => {
  ;[b1, b2] = await net.startBootstrapPair()
  const config = net.config('node', `
[connect]
timeout = "2s"

[health]
probe_timeout = "2s"
backoff_initial = "1s"
backoff_max = "3s"
`)
  node = await net.startNode('node', { bootstraps: [b1.addr], config })
  browser = await launchBrowser()
})

after(async () => {
  await closeBrowser(browser, 'degraded')
  await net.cleanup()
})

test('bootstrap killed: degraded with the reconnect status; restarted: healthy again', async () => {
  await waitNodeState(node, 'healthy')
  const page = await openPage(browser, node.api)
  await ui.nodeStatus(page, 'Healthy').waitFor()
  const card = ui.card(page, b1.addr)
  await waitText(card.locator('.badge'), /Healthy/)

  await net.kill(b1)
  await ui.nodeStatus(page, 'Degraded').waitFor({ timeout: 20_000 })
  const warning = ui.networkWarning(page)
  await waitText(warning.getByRole('heading'), /Network degraded/)
  const port = b1.addr.split('/')[4]
  await waitText(warning, new RegExp(`127\\.0\\.0\\.1:${port} is unreachable \\(dial phase`))
  await waitText(warning.locator('[data-reconnect]'), /Auto-reconnect: attempt [1-9]\d*, next attempt (in \d+ s|now) \(\d\d:\d\d:\d\d\)\./)
  await waitText(card.locator('.badge'), /Down/)
  await waitText(ui.fact(card, 'Consecutive failures'), /^[1-9]/)
  await waitText(ui.downAlert(page).getByRole('heading'), new RegExp(`Cannot reach bootstrap 127\\.0\\.0\\.1:${port}`))
  await screenshot(page, 'degraded')

  // the attempt number climbs while it stays down
  const attempt = async () => Number(/attempt (\d+)/.exec(await warning.locator('[data-reconnect]').textContent())[1])
  const first = await attempt()
  await waitText(warning.locator('[data-reconnect]'), new RegExp(`attempt (${first + 1}|${first + 2}|${first + 3})\\b`), 20_000)

  const restarted = await net.startBootstrap('b1-again', { listen: `/ip4/127.0.0.1/tcp/${port}`, dataDir: net.path('b1'), peers: [b2.addr] })
  assert.equal(restarted.peerId, b1.peerId, 'the restarted bootstrap kept its peer ID')
  await ui.nodeStatus(page, 'Healthy').waitFor({ timeout: 30_000 })
  await warning.waitFor({ state: 'detached' })
  await waitText(card.locator('.badge'), /Healthy/)
  await waitText(ui.fact(card, 'Consecutive failures'), /^0$/)
  assert.equal(await ui.downAlert(page).count(), 0)
  await screenshot(page, 'recovered')
  await page.context().close()
  assert.deepEqual(page.errors, [])
})
