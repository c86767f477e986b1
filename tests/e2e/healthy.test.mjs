// The network page of a node joined to two bootstraps that know each other: it turns healthy on
// its own, names its peer ID and peer count, shows a card per bootstrap with every figure, lists
// the discovered peers, fetches nothing from outside the daemon, and fits a phone's width.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { DESKTOP, PHONE, closeBrowser, launchBrowser, openPage, screenshot, ui, waitText } from './lib/browser.mjs'
import { KeelNetwork, apiGet } from './lib/keel.mjs'

const net = new KeelNetwork('healthy')
let browser, b1, b2, node

before(async () => {
  ;[b1, b2] = await net.startBootstrapPair()
  node = await net.startNode('node', { bootstraps: [b1.addr, b2.addr] })
  browser = await launchBrowser()
})

after(async () => {
  await closeBrowser(browser, 'healthy')
  await net.cleanup()
})

test('the page shows the node healthy, its peer ID and peer count, and a card per bootstrap', async () => {
  const page = await openPage(browser, node.api, DESKTOP)
  await ui.nodeStatus(page, 'Healthy').waitFor({ timeout: 60_000 })
  await waitText(page.locator('main'), new RegExp(node.peerId))
  const peers = page.locator('[data-fact="peers"]')
  await waitText(peers, /^[1-9]\d*$/)

  for (const b of [b1, b2]) {
    const card = ui.card(page, b.addr)
    await waitText(card.locator('.badge'), /Healthy/, 60_000)
    await waitText(ui.fact(card, 'Reachable'), /Yes/)
    await waitText(ui.fact(card, 'Latency'), /ms · (good|fair|poor)/)
    await waitText(ui.fact(card, 'DHT answering'), /Yes/)
    await waitText(ui.fact(card, 'Peers'), /^\d+/)
    await waitText(ui.fact(card, 'Routing table'), /^[1-9]\d*/)
    await waitText(ui.fact(card, 'Last check'), /just now|s ago|min ago/)
    await waitText(ui.fact(card, 'Consecutive failures'), /^0$/)
    // on loopback the latency is well under 100 ms: coloured "good"
    assert.equal(await card.locator('.lat').getAttribute('class'), 'lat lat-good')
  }
  // no error or warning banner on a healthy network
  assert.equal(await ui.downAlert(page).count(), 0)
  assert.equal(await ui.networkWarning(page).count(), 0)

  // discovered peers, live: both bootstraps, connected
  const list = page.getByRole('region', { name: /Discovered peers/ })
  for (const b of [b1, b2]) await waitText(list.locator(`[data-peer="${b.peerId}"]`), /connected/)
  await waitText(page.getByRole('status').filter({ hasText: 'Live' }), /Live/)

  // the same figures as the API
  const health = await apiGet(node, '/api/v1/bootstrap/health')
  assert.equal(health.node_state, 'healthy')
  await screenshot(page, 'healthy-desktop')
  assert.deepEqual(page.foreignRequests, [], 'the page fetched something from outside the daemon')
  assert.deepEqual(page.errors, [], 'the page threw')
  await page.context().close()
})

test('at phone width the page is readable: one column, nothing wider than the screen', async () => {
  const page = await openPage(browser, node.api, PHONE)
  await ui.nodeStatus(page, 'Healthy').waitFor({ timeout: 30_000 })
  await waitText(ui.fact(ui.card(page, b1.addr), 'Reachable'), /Yes/)
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone's screen`)
  // the two cards stack: the second starts below the first
  const [first, second] = await Promise.all([b1, b2].map((b) => ui.card(page, b.addr).boundingBox()))
  assert.ok(second.y >= first.y + first.height || first.y >= second.y + second.height, 'cards overlap or sit side by side')
  await screenshot(page, 'healthy-phone')
  assert.deepEqual(page.errors, [])
  await page.context().close()
})

test('keyboard: every control is reachable with Tab and has an accessible name', async () => {
  const page = await openPage(browser, node.api, DESKTOP)
  await ui.nodeStatus(page, 'Healthy').waitFor({ timeout: 30_000 })
  const reached = new Set()
  for (let i = 0; i < 12; ++i) {
    await page.keyboard.press('Tab')
    const name = await page.evaluate(() => {
      const el = document.activeElement
      if (!el || el === document.body) return ''
      const label = el.labels?.[0]?.textContent ?? ''
      return `${el.tagName}:${(el.getAttribute('aria-label') || label || el.textContent || '').trim()}`
    })
    if (name) reached.add(name)
  }
  for (const want of ['BUTTON:Run Diagnostics', 'INPUT:Key (a CID or any text)', 'BUTTON:Publish', 'BUTTON:Find providers']) {
    assert.ok(reached.has(want), `Tab never reached ${want}; reached: ${[...reached].join(', ')}`)
  }
  await page.context().close()
})

test('[Run Diagnostics] with nobody else on the network: step 4 is "not enough peers to check", neutral, not a failure', async () => {
  // Both bootstraps are in this node's list, no other node has joined, and the bootstraps know
  // nobody else either: step 4 ("list discovered peers") has nothing to check. That is the
  // network's size, not a fault: its own neutral state, neither a tick nor a cross.
  const page = await openPage(browser, node.api)
  await ui.nodeStatus(page, 'Healthy').waitFor()
  const panel = ui.diagnostics(page)
  await panel.getByRole('button', { name: 'Run Diagnostics' }).click()
  await waitText(panel.getByRole('status'), /5 of 6 steps passed; 1 could not be checked: not enough peers\./, 90_000)
  assert.equal(await panel.getByRole('status').getAttribute('class'), 'neutral')
  const step = panel.locator('li[data-step="list_peers"]')
  assert.equal(await step.getAttribute('class'), 'step step-not_enough_peers')
  assert.equal(await step.locator('.step-icon').textContent(), '∅')
  assert.ok((await step.textContent()).includes(': not enough peers to check'))
  await waitText(step, /0 besides the bootstraps/)
  await waitText(step, /routing table \d/)
  await waitText(step.locator('.remedy'), /To check it: .*Start another node/)
  await waitText(step.locator('.step-ms'), /\d+(\.\d)? (ms|s)$/)
  // nothing failed, and the steps that passed show no remedy
  assert.equal(await panel.locator('li.step-failed').count(), 0)
  assert.equal(await panel.locator('li.step-passed .remedy').count(), 0)
  // the API says the same
  const last = await apiGet(node, '/api/v1/diagnostics')
  assert.equal(last.steps[3].status, 'not_enough_peers')
  await screenshot(page, 'diagnostics-not-enough-peers')
  await screenshot(page, 'diagnostics-not-enough-peers-panel', { element: panel })
  assert.deepEqual(page.errors, [])
  await page.context().close()
})
