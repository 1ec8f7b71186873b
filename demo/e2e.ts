// Headless Chromium driver for the demo page (test/demo.e2e.test.ts): launch the system Chromium with
// WebGPU on and no network, open a URL, forward the page's console, wait for done/error.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { DemoStatus } from './main.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** WebGPU on (SwiftShader in a headless machine); everything that would reach the network off. */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', '--no-sandbox',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: the browser demo test needs it. Install it with 'apt-get install -y chromium' (as root, npm install does), or set CHROMIUM_PATH.`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface PageRun { status: DemoStatus; page: Page; console: string[] }

/** Open url and forward console lines (prefixed [page]); a query with a preset starts a run. */
export async function openDemoPage(browser: Browser, url: string, log: (line: string) => void = console.log): Promise<{ page: Page; console: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
  const lines: string[] = [];
  page.on('console', (m) => { const l = `[page ${m.type()}] ${m.text()}`; lines.push(l); log(l); });
  page.on('pageerror', (e) => { const l = `[page exception] ${e.message}`; lines.push(l); log(l); });
  await page.goto(url);
  return { page, console: lines };
}

/** openDemoPage, then wait until the demo reports done, stopped or error. */
export async function runDemoPage(browser: Browser, url: string, timeoutMs: number, log: (line: string) => void = console.log): Promise<PageRun> {
  const { page, console: lines } = await openDemoPage(browser, url, log);
  await page.waitForFunction(() => {
    const s = (window as unknown as { __fapoolDemo?: DemoStatus }).__fapoolDemo?.state;
    return s === 'done' || s === 'stopped' || s === 'error';
  }, undefined, { timeout: timeoutMs, polling: 200 });
  const status = await page.evaluate(() => (window as unknown as { __fapoolDemo: DemoStatus }).__fapoolDemo);
  return { status, page, console: lines };
}
