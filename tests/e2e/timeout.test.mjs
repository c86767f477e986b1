// A bootstrap that accepts TCP and never answers (a SIGSTOPped `keel bootstrap`): the page names it
// and the phase that timed out, [Use Backup] connects to the next bootstrap of the list, and
// [Retry] probes again at once: still failing while the bootstrap is frozen, healthy as soon as it
// runs again. Connect deadlines are 2 s and the automatic reconnect waits 60 s, so only [Retry]
// can bring it back within the test.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { closeBrowser, launchBrowser, openPage, screenshot, ui, waitText } from './lib/browser.mjs'
import { KeelNetwork, apiGet, waitFor } from './lib/keel.mjs'

const net = new KeelNetwork('timeout')
let browser, b1, b2, node

before(async () => {
  ;[b1, b2] = await net.startBootstrapPair()
  b1.child.kill('SIGSTOP')
  const config = net.config('node', `
[connect]
timeout = "2s"

[health]
probe_interval = "60s"
probe_timeout = "2s"
backoff_initial = "60s"
backoff_max = "60s"
`)
  node = await net.startNode('node', { bootstraps: [b1.addr, b2.addr], config })
  browser = await launchBrowser()
})

after(async () => {
  await closeBrowser(browser, 'timeout')
  await net.cleanup()
})

const probesOf = async (b) =>
  (await apiGet(node, '/api/v1/bootstrap/health')).bootstraps.find((x) => x.addr === b.addr).probes

test('a frozen bootstrap: timeout banner naming it and the phase, working [Use Backup] and [Retry]', async () => {
  const page = await openPage(browser, node.api)
  const alert = ui.downAlert(page)
  const port = b1.addr.split('/')[4]
  await waitText(alert.getByRole('heading'), new RegExp(`Connection to bootstrap 127\\.0\\.0\\.1:${port} timed out`), 60_000)
  await waitText(alert.locator('[data-phase]'), /^security$/)
  assert.equal(await alert.count(), 1, 'only the frozen bootstrap is in error')
  await waitText(ui.card(page, b1.addr).locator('.badge'), /Down/)
  await waitText(ui.fact(ui.card(page, b1.addr), 'Reachable'), /No/)
  await waitText(alert, new RegExp(`Backup: 127\\.0\\.0\\.1:${b2.addr.split('/')[4]}`))
  await screenshot(page, 'timeout-banner')

  // [Use Backup]: POST /api/v1/connect to the next bootstrap, its answer shown
  await alert.getByRole('button', { name: 'Use Backup' }).click()
  await waitText(alert.locator('[data-result="backup"]'), /Connected to the backup in \d+ ms\./)

  // [Retry] while still frozen: a new probe runs (and fails again in the security phase)
  const before = await probesOf(b1)
  await alert.getByRole('button', { name: 'Retry' }).click()
  await waitText(alert.locator('[data-result="retry"]'), /Still down: security/, 20_000)
  assert.ok(await probesOf(b1) > before, 'Retry did not probe the bootstrap')
  await screenshot(page, 'timeout-retry-failed')

  // the bootstrap runs again: [Retry] brings it back at once (the automatic redial is 60 s away)
  b1.child.kill('SIGCONT')
  await alert.getByRole('button', { name: 'Retry' }).click()
  await alert.waitFor({ state: 'detached', timeout: 20_000 })
  await waitText(ui.card(page, b1.addr).locator('.badge'), /Healthy/)
  await waitText(ui.fact(ui.card(page, b1.addr), 'Consecutive failures'), /^0$/)
  await ui.nodeStatus(page, 'Healthy').waitFor()
  await screenshot(page, 'timeout-recovered')
  await page.context().close()
  assert.deepEqual(page.errors, [])
})
