// Debian's Chromium driven by playwright-core (never a downloaded browser), a page per node, and
// screenshots: every state a test reaches is saved to build/e2e-screenshots/NAME.png
// ($KEEL_E2E_SCREENSHOTS overrides the directory); with KEEL_E2E_DOCS_IMAGES=1 the ones the README
// shows are copied to docs/images/ui-NAME.png too (then shrink them: pngquant --ext .png --force).
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { repoRoot } from './keel.mjs'

export const PHONE = { width: 390, height: 844 }
export const DESKTOP = { width: 1280, height: 900 }

export const screenshotDir = process.env.KEEL_E2E_SCREENSHOTS || join(repoRoot, 'build/e2e-screenshots')
const DOCS_IMAGES = new Set(['healthy-desktop', 'diagnostics-panel', 'keel-up-diagnostics-panel', 'history-chart', 'operator-load-chart'])

export function launchBrowser () {
  return chromium.launch({
    executablePath: process.env.KEEL_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30_000
  })
}

/**
 * A page on `url` in its own context. Any request that leaves the daemon (a CDN, a font) is
 * refused and recorded in page.foreignRequests; uncaught page errors in page.errors.
 */
export async function openPage (browser, url, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 })
  const origin = new URL(url).origin
  const page = await context.newPage()
  page.foreignRequests = []
  page.errors = []
  await context.route('**/*', (route) => {
    const u = route.request().url()
    if (u.startsWith(origin + '/') || u.startsWith('data:')) return route.continue()
    page.foreignRequests.push(u)
    return route.abort()
  })
  page.on('pageerror', (e) => page.errors.push(e.message))
  page.setDefaultTimeout(30_000)
  await page.goto(url)
  return page
}

/** Saves the whole page (or only `element`, a locator) as NAME.png. */
export async function screenshot (page, name, { fullPage = true, element = null } = {}) {
  mkdirSync(screenshotDir, { recursive: true })
  const file = join(screenshotDir, `${name}.png`)
  if (element) await element.screenshot({ path: file, animations: 'disabled' })
  else await page.screenshot({ path: file, fullPage, animations: 'disabled' })
  if (process.env.KEEL_E2E_DOCS_IMAGES === '1' && DOCS_IMAGES.has(name)) {
    mkdirSync(join(repoRoot, 'docs/images'), { recursive: true })
    copyFileSync(file, join(repoRoot, 'docs/images', `ui-${name}.png`))
  }
  return file
}

// What a person sees, as locators.
export const ui = {
  nodeStatus: (page, state) => page.getByRole('status', { name: `Node status: ${state}` }),
  card: (page, addr) => page.locator(`article[data-bootstrap="${addr}"]`),
  fact: (card, term) => card.locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]'),
  downAlert: (page) => page.locator('[data-alert="bootstrap-down"]'),
  networkWarning: (page) => page.locator('[data-alert="network"]'),
  diagnostics: (page) => page.getByRole('region', { name: 'Diagnostics' })
}

/** Waits until `locator`'s text matches `re` (Playwright's own polling, with a deadline). */
export async function waitText (locator, re, timeout = 30_000) {
  await locator.filter({ hasText: re }).first().waitFor({ state: 'visible', timeout })
}

/**
 * Closes the browser. Pages still open were left by a failed test (tests close theirs): each is
 * saved first as NAME-failed-N.png, to see what the page showed when the test gave up.
 */
export async function closeBrowser (browser, name) {
  if (!browser) return
  let n = 0
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      try {
        const file = await screenshot(page, `${name}-failed-${++n}`)
        console.log(`# page left open by a failed test: ${file}`)
      } catch {
        // the page is gone
      }
    }
  }
  await browser.close()
}
