import t from 'tap';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';

const HOST = 'shop.example.com';

t.test('readable on a phone, usable with the keyboard; with many vhosts the ledgers start folded and are read only when opened', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec('web'));
  // Eleven vhosts: more than the console unfolds ledgers for.
  for (let i = 0; i < 10; i++) await env.putSpec(`z${i}.example.com`, blueGreenSpec('web'));
  await env.until('z9.example.com', { body: 'blue' });
  const origin = `http://127.0.0.1:${env.apiPort}`;
  const browser = await launchBrowser(t);
  const { page, errors, requests } = await openPage(browser, origin, { width: 390, height: 844 });
  await page.goto(`${origin}/`);
  await page.locator(`article[data-host="${HOST}"]`).getByText('live: blue').waitFor();
  const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
  const widest = await page.evaluate(`[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(-3).map((e) => e.tagName + '.' + e.className).join(', ')`);
  t.ok(overflow <= 0, `the page does not scroll sideways (${overflow} px; too wide: ${String(widest)})`);
  // Keyboard: Tab reaches the flip button of the other colour.
  let reached = false;
  for (let i = 0; i < 20 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = (await page.evaluate('document.activeElement?.id')) === 'flip-shop.example.com-green';
  }
  t.ok(reached, 'the flip button is reachable with the keyboard');
  await page.keyboard.press('Enter');
  t.ok(await page.locator('#flip-dialog').isVisible(), 'Enter opens the flip dialog');
  t.equal(await page.evaluate('document.activeElement?.id'), 'flip-reason', 'focus goes to the reason');
  await page.keyboard.press('Escape');
  t.notOk(await page.locator('#flip-dialog').isVisible(), 'Escape closes it');

  t.equal(await page.locator('details.ledger').count(), 11);
  t.equal(await page.locator('details.ledger[open]').count(), 0, 'every ledger starts folded');
  t.same(requests.filter((u) => u.includes('/history')), [], 'and none is read');
  await page.locator(`#ledger-${HOST.replace(/\./g, '\\.')}`).click();
  await page.locator(`details.ledger[data-host="${HOST}"]`).getByText('No flips recorded').waitFor();
  t.same([...new Set(requests.filter((u) => u.includes('/history')).map((u) => new URL(u).pathname))], [`/v1/vhosts/${HOST}/history`], 'opening one reads that one only');
  t.same(errors, []);
});
