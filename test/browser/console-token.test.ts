import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';
import { tmpDir } from '../helpers/tmp.ts';

const HOST = 'shop.example.com';
const TOKEN = 's3cret-console-token';

t.test('with a token set: the page without it shows nothing but the token prompt, and a wrong token is refused', async (t) => {
  const tokenFile = join(tmpDir(t), 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const env = await startEnv(t, { config: { api: { tokenFile } } });
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec('web'));
  await env.until(HOST, { body: 'blue' });
  t.equal((await env.api('GET', `/v1/vhosts/${HOST}/history`)).status, 401, 'the ledger needs the token like every /v1/ route');

  const origin = `http://127.0.0.1:${env.apiPort}`;
  const browser = await launchBrowser(t);
  const { page, errors, outside } = await openPage(browser, origin);
  const refusals: string[] = [];
  page.on('response', (res) => void (res.status() === 401 && refusals.push(new URL(res.url()).pathname)));
  await page.goto(`${origin}/`);
  const prompt = page.locator('#token');
  await prompt.waitFor();
  t.ok(await page.locator('#app').isHidden(), 'nothing but the prompt');
  t.notMatch(await page.locator('body').innerText(), /shop\.example\.com|test-lb/, 'no data on the page');
  t.same(refusals, ['/v1/vhosts'], 'the API refused the page without a token');

  await page.locator('#token-input').fill('wrong-token');
  await page.getByRole('button', { name: 'Use token' }).click();
  await page.getByText('The token was refused.').waitFor();
  t.ok(await page.locator('#app').isHidden(), 'a wrong token shows nothing either');
  t.equal(refusals.length, 2, 'and was refused by the API');
  t.notMatch(await page.locator('body').innerText(), /shop\.example\.com/);

  t.same(
    errors.filter((e) => !/status of 401 \(Unauthorized\)/.test(e)),
    [],
    'no console error but the 401 answers Chromium reports',
  );
  t.same(outside, []);
});
