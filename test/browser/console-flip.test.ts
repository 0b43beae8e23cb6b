import t from 'tap';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';

const HOST = 'shop.example.com';

t.test('a flip clicked on the page makes HAProxy serve the other colour and lands in the ledger with its reason', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } }));
  await env.until(HOST, { body: 'blue' });
  const origin = `http://127.0.0.1:${env.apiPort}`;
  const browser = await launchBrowser(t);
  const { page, errors, outside } = await openPage(browser, origin);
  await page.goto(`${origin}/`);
  const card = page.locator(`article[data-host="${HOST}"]`);
  await card.locator('section[data-colour="green"]').getByText('UP', { exact: true }).first().waitFor({ timeout: 15000 });

  await page.locator(`#flip-${HOST.replace(/\./g, '\\.')}-green`).click();
  const dialog = page.locator('#flip-dialog');
  t.match(await dialog.locator('h2').textContent(), /Flip shop\.example\.com from blue to green/);
  await dialog.locator('#flip-reason').fill('release 4.2, canary ok');
  await dialog.getByRole('button', { name: 'Flip', exact: true }).click();
  await dialog.getByText(/Written at etcd revision \d+: blue → green/).waitFor();
  await dialog.locator('.confirmations li[data-node="test-lb"].served').waitFor();
  t.match(await dialog.locator('.confirmations').textContent(), /test-lb served \+\d+\.\d\d s/, "each load balancer's confirmation is shown");
  t.match((await env.get(HOST)).body, /^green/, 'HAProxy serves green');
  await dialog.getByRole('button', { name: 'Close' }).click();

  await card.getByText('live: green').waitFor();
  const row = card.locator('.ledger tbody tr').first();
  await row.getByText('release 4.2, canary ok').waitFor();
  t.match(await row.textContent(), /blue → green\s*api 127\.0\.0\.1 via test-lb · rev \d+release 4\.2, canary ok/);
  t.same(errors, []);
  t.same(outside, []);
});
