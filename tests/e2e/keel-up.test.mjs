// `keel up`, the one command a newcomer runs: it serves the network page at its API address
// without being told where the UI is, and the page turns healthy on its own (two embedded
// bootstraps that know each other).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { closeBrowser, launchBrowser, openPage, screenshot, ui } from './lib/browser.mjs'
import { KeelNetwork } from './lib/keel.mjs'

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
  await screenshot(page, 'keel-up')
  assert.deepEqual(page.foreignRequests, [])
  assert.deepEqual(page.errors, [])
  await page.context().close()
})
