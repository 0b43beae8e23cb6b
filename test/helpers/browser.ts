/**
 * Real headless Chromium (Debian's, driven by playwright-core) for the
 * console's tests: every console message, page error, failed request and
 * request that leaves the daemon's origin is recorded, so a test can assert
 * that there were none.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Teardown } from './tmp.ts';

export const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface WatchedPage {
  readonly page: Page;
  /** Console errors and warnings, uncaught page errors, failed requests. */
  readonly errors: string[];
  /** Every URL the page asked for that is not on `origin`. */
  readonly outside: string[];
  /** Every URL the page asked for. */
  readonly requests: string[];
}

export async function launchBrowser(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 30000 });
  t.teardown(() => browser.close());
  return browser;
}

/** A fresh page (own context: no cookies or storage shared with other pages) watched from its first request. */
export async function openPage(browser: Browser, origin: string, viewport = { width: 1280, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const errors: string[] = [];
  const outside: string[] = [];
  const requests: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') errors.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? '';
    // A poll still in flight when the page reloads or navigates is cancelled by the browser: not a failure of the page.
    if (why !== 'net::ERR_ABORTED') errors.push(`request failed: ${req.url()} ${why}`);
  });
  page.on('request', (req) => {
    requests.push(req.url());
    if (new URL(req.url()).origin !== origin) outside.push(req.url());
  });
  return { page, errors, outside, requests };
}
