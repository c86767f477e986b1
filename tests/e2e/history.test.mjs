// History charts against real keel processes: the node's only bootstrap is frozen (SIGSTOP: it
// holds its connections and answers nothing), then resumed. The bootstrap's latency chart shows a
// down band about as long as the page showed it down, and a reconnect mark; the page works while
// the history is still empty, on a phone too.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { PHONE, closeBrowser, launchBrowser, openPage, screenshot, ui, waitText } from './lib/browser.mjs'
import { KeelNetwork, waitFor, waitNodeState } from './lib/keel.mjs'

const net = new KeelNetwork('history')
let browser, b1, node

before(async () => {
  ;[b1] = await net.startBootstrapPair()
  const config = net.config('node', `
[connect]
timeout = "2s"

[health]
probe_interval = "2s"
probe_timeout = "2s"
backoff_initial = "1s"
backoff_max = "3s"
`)
  node = await net.startNode('node', { bootstraps: [b1.addr], config })
  browser = await launchBrowser()
})

after(async () => {
  if (b1) b1.child.kill('SIGCONT')
  await closeBrowser(browser, 'history')
  await net.cleanup()
})

test('a frozen then resumed bootstrap: a down band of that length and a reconnect mark', async () => {
  await waitNodeState(node, 'healthy')
  const page = await openPage(browser, node.api)
  const chart = page.locator(`[data-history-bootstrap="${b1.addr}"]`)
  await chart.waitFor({ timeout: 20_000 })
  assert.equal(await chart.locator('canvas').count() >= 1, true, 'the chart draws on a canvas')
  const card = ui.card(page, b1.addr)
  await waitText(card.locator('.badge'), /Healthy/)

  // A machine that stops (a VM paused for a snapshot: nothing runs, then the wall clock jumps)
  // adds its pause to the test's clock but leaves no point in the daemon's history. This process
  // sees such a pause as a late tick, where a stall of the daemon alone would not show.
  let paused = 0
  let lastTick = Date.now()
  const ticker = setInterval(() => {
    const now = Date.now()
    paused += Math.max(0, now - lastTick - 1000)
    lastTick = now
  }, 250)
  ticker.unref()

  // The fault lasts a fixed time (what is measured), not until a condition.
  const frozenFor = 20_000
  b1.child.kill('SIGSTOP')
  await waitText(card.locator('.badge'), /Down/, 30_000)
  const downAt = Date.now()
  await new Promise((resolve) => setTimeout(resolve, frozenFor))
  b1.child.kill('SIGCONT')
  await waitText(card.locator('.badge'), /Healthy/, 30_000)
  const shownDown = (Date.now() - downAt) / 1000

  await waitFor(async () => Number(await chart.getAttribute('data-reconnects')) >= 1,
    { what: 'a reconnect mark on the chart' })
  clearInterval(ticker)
  if (paused > 0) console.log(`# the machine stopped for ${(paused / 1000).toFixed(1)} s during the fault`)
  // One point every 5 s: the band is the page's down time to within two points (and a pause).
  let band = 0
  await waitFor(async () => {
    band = Number(await chart.getAttribute('data-down-seconds'))
    return Math.abs(band - shownDown) <= 10 + paused / 1000
  }, { ms: 15_000, what: `a down band of about ${shownDown.toFixed(0)} s` })
  await waitText(chart.locator('figcaption'), /down for \d+ s in this range, 1 reconnect/)
  console.log(`# [figure] bootstrap frozen ${frozenFor / 1000} s: the page showed it down ${shownDown.toFixed(1)} s, the chart's down band ${band} s, 1 reconnect mark`)
  await screenshot(page, 'history')
  await screenshot(page, 'history-chart', { element: page.getByRole('region', { name: 'History' }) })

  // The day's range: minutes folded by the daemon, read on demand.
  await page.getByRole('button', { name: 'Last day' }).click()
  await waitText(page.locator('[data-history-empty], [data-history-bootstrap] figcaption').first(), /No history yet|latency/)
  await page.context().close()
  assert.deepEqual(page.errors, [])

  const phone = await openPage(browser, node.api, PHONE)
  await phone.locator(`[data-history-bootstrap="${b1.addr}"] canvas`).first().waitFor()
  await screenshot(phone, 'history-phone')
  await phone.context().close()
  assert.deepEqual(phone.errors, [])
})
