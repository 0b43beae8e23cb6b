import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';
import { tmpDir } from '../helpers/tmp.ts';

const HOST = 'shop.example.com';
const TOKEN = 's3cret-console-token';

t.test('with a token set: the right token shows the console, and is kept for the tab only', async (t) => {
  const tokenFile = join(tmpDir(t), 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const env = await startEnv(t, { config: { api: { tokenFile } } });
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec('web'));
  await env.until(HOST, { body: 'blue' });

  const origin = `http://127.0.0.1:${env.apiPort}`;
  const browser = await launchBrowser(t);
  const { page, errors, outside } = await openPage(browser, origin);
  await page.goto(`${origin}/`);
  const prompt = page.locator('#token');
  await prompt.waitFor();

  await page.locator('#token-input').fill(TOKEN);
  await page.getByRole('button', { name: 'Use token' }).click();
  await page.locator(`article[data-host="${HOST}"]`).getByText('live: blue').waitFor();
  t.ok(await prompt.isHidden(), 'the right token shows the console');
  await page.locator(`article[data-host="${HOST}"] .ledger`).getByText('No flips recorded').waitFor();
  t.same(await page.context().cookies(), [], 'no cookie');
  t.equal(await page.evaluate('localStorage.length'), 0, 'nothing in local storage');
  t.equal(await page.evaluate("sessionStorage.getItem('haproxy-sync-token')"), TOKEN, 'kept for this tab only');

  await page.locator(`#flip-${HOST.replace(/\./g, '\\.')}-green`).click();
  await page.locator('#flip-dialog').getByRole('button', { name: 'Flip', exact: true }).click();
  await page.locator('#flip-dialog').getByText(/Written at etcd revision \d+: blue → green/).waitFor();
  await env.until(HOST, { body: 'green' });
  t.pass('a flip from the page sends the token too');
  await page.locator('#flip-dialog').getByRole('button', { name: 'Close' }).click();

  await page.reload();
  await page.locator(`article[data-host="${HOST}"]`).getByText('live: green').waitFor();
  t.pass('a reload in the same tab keeps it');
  const other = await page.context().newPage();
  await other.goto(`${origin}/`);
  await other.locator('#token').waitFor();
  t.pass('another tab asks again');

  t.same(
    errors.filter((e) => !/status of 401 \(Unauthorized\)/.test(e)),
    [],
    'no console error but the 401 answers Chromium reports',
  );
  t.same(outside, []);
});
