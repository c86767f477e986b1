// Two client nodes on two bootstraps that know each other (A through B1, B through B2, as in
// tests/scenario/discovery_test.cpp): [Run Diagnostics] on A's page shows the six steps' live
// progress and ends with all six checked, with their durations; a key published on A's page is
// found, with A as its provider, from B's page.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { closeBrowser, launchBrowser, openPage, screenshot, ui, waitText } from './lib/browser.mjs'
import { KeelNetwork, waitNodeState } from './lib/keel.mjs'

const net = new KeelNetwork('discovery')
let browser, b1, b2, a, b

before(async () => {
  ;[b1, b2] = await net.startBootstrapPair()
  a = await net.startNode('a', { bootstraps: [b1.addr] })
  b = await net.startNode('b', { bootstraps: [b2.addr] })
  await Promise.all([waitNodeState(a, 'healthy'), waitNodeState(b, 'healthy')])
  browser = await launchBrowser()
})

after(async () => {
  await closeBrowser(browser, 'discovery')
  await net.cleanup()
})

test('[Run Diagnostics]: six steps with live progress, all checked, with durations', async () => {
  const page = await openPage(browser, a.api)
  await ui.nodeStatus(page, 'Healthy').waitFor()
  const panel = ui.diagnostics(page)
  const steps = panel.locator('li[data-step]')
  assert.equal(await steps.count(), 6)
  // Record every state each step shows while the run goes (a person would see them change).
  await page.evaluate(() => {
    window.seenStates = []
    new MutationObserver(() => {
      for (const li of document.querySelectorAll('li[data-step]')) {
        const entry = `${li.dataset.step}:${li.className.match(/step-(\w+)/)[1]}`
        if (!window.seenStates.includes(entry)) window.seenStates.push(entry)
      }
    }).observe(document.querySelector('ol.steps'), { subtree: true, attributes: true, childList: true, characterData: true })
  })
  // with the keyboard, as a person without a mouse would
  await panel.getByRole('button', { name: 'Run Diagnostics' }).focus()
  await page.keyboard.press('Enter')
  await waitText(panel.getByRole('status'), /All 6 steps passed\./, 90_000)
  for (const id of ['routing_table', 'publish', 'fetch_remote', 'list_peers', 'reachability', 'provider_visible']) {
    const step = panel.locator(`li[data-step="${id}"]`)
    assert.equal(await step.locator('.step-icon').textContent(), '✓', `step ${id} is not checked`)
    await waitText(step.locator('.step-ms'), /\d+(\.\d)? (ms|s)$/)
    assert.ok((await step.textContent()).includes(': passed'), `step ${id}: no accessible "passed"`)
  }
  const seen = await page.evaluate(() => window.seenStates)
  assert.ok(seen.some((s) => s.endsWith(':running')), `no step was ever shown running: ${seen.join(', ')}`)
  assert.ok(seen.includes('routing_table:passed'))
  await screenshot(page, 'diagnostics-passed')
  await screenshot(page, 'diagnostics-panel', { element: panel })
  assert.deepEqual(page.errors, [])
  await page.context().close()
})

test('a key published on A\'s page is found, with A as provider, from B\'s page', async () => {
  const key = `e2e-${Date.now()}`
  const pageA = await openPage(browser, a.api)
  const pageB = await openPage(browser, b.api)
  const sectionA = pageA.getByRole('region', { name: 'Publish and find content' })
  await sectionA.getByLabel('Key (a CID or any text)').fill(key)
  await sectionA.getByRole('button', { name: 'Publish' }).click()
  await waitText(sectionA.getByRole('status'), /Published \S+: stored by [1-9]\d* of \d+ peers asked\./, 60_000)
  await screenshot(pageA, 'provider-published')

  const sectionB = pageB.getByRole('region', { name: 'Publish and find content' })
  await sectionB.getByLabel('Key (a CID or any text)').fill(key)
  await sectionB.getByRole('button', { name: 'Find providers' }).click()
  await waitText(sectionB.getByRole('status'), /1 provider of/, 60_000)
  await sectionB.locator(`[data-provider="${a.peerId}"]`).waitFor()
  await screenshot(pageB, 'provider-found')

  // a key nobody published: said so, not an empty spinner
  await sectionB.getByLabel('Key (a CID or any text)').fill(`${key}-nobody`)
  await sectionB.getByRole('button', { name: 'Find providers' }).click()
  await waitText(sectionB.getByRole('status'), /No providers of .* found/, 60_000)
  assert.deepEqual([...pageA.errors, ...pageB.errors], [])
  await pageA.context().close()
  await pageB.context().close()
})
