// A bootstrap operator's view: `keel bootstrap --api …` serves the same page (found without
// --ui-dir, as `keel up` finds it): its state is its own probe of itself, and its "Load on this
// process" chart shows the ramp of a `keel load` run (real connections: Noise, Yamux, identify,
// FIND_NODE) against it.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, test } from 'node:test'
import { closeBrowser, launchBrowser, openPage, screenshot, waitText } from './lib/browser.mjs'
import { KeelNetwork, keelBinary, waitFor } from './lib/keel.mjs'

const net = new KeelNetwork('operator')
let browser, boot

before(async () => {
  boot = await net.spawn('boot', ['bootstrap', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', net.path('boot'),
    '--api', '127.0.0.1:0', '--json', '--log-level', 'info'])
  browser = await launchBrowser()
})

after(async () => {
  await closeBrowser(browser, 'operator')
  await net.cleanup()
})

function runLoad (target, connections) {
  return new Promise((resolve, reject) => {
    const child = spawn(keelBinary(), ['load', '--target', target, '-n', String(connections), '-r', '100', '-d', '12s',
      '--find-node', '--quiet', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('keel load did not finish within 60 s')) }, 60_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`keel load exited ${code}: ${out}`))
      resolve(JSON.parse(out))
    })
  })
}

test("the operator's page shows a load run's connection ramp", async () => {
  const page = await openPage(browser, boot.api)
  // A bootstrap without a bootstrap list is not "Connecting": it serves, as its own probe shows
  // (degraded while its routing table is empty: a client would find nobody through it).
  await waitText(page.getByRole('status', { name: /Node status/ }), /^\s*Serving(, degraded)?\s*$/)
  await waitText(page.locator('[data-fact="self-probe"] dd'), /FIND_NODE/)
  await waitText(page.locator('[data-local="own-probe"]'), /own probe/)
  const chart = page.locator('[data-history-load]')
  await chart.waitFor({ timeout: 20_000 })
  const connections = 150
  const load = runLoad(boot.addr, connections)
  await waitFor(async () => Number(await chart.getAttribute('data-peak-connections')) >= connections,
    { ms: 40_000, what: `the chart to show ${connections} connections` })
  const report = await load
  const peak = Number(await chart.getAttribute('data-peak-connections'))
  const rate = Number(await chart.getAttribute('data-peak-accepted'))
  assert.ok(rate > 0, 'a rate of new connections is shown')
  // every connection sent one FIND_NODE (--find-node)
  await waitText(chart.locator('[data-refused-by-reason]'), /DHT requests served: FIND_NODE [1-9]\d*/)
  await page.locator('[data-history-memory] canvas').first().waitFor()
  console.log(`# [figure] keel load ${connections} connections at 100/s: the operator's chart peaked at ${peak} connections, ${rate} new/s (load report: ${JSON.stringify(report.established ?? report.connections ?? '')})`)
  await screenshot(page, 'operator')
  await screenshot(page, 'operator-load-chart', { element: chart })
  await page.context().close()
  assert.deepEqual(page.errors, [])
})
