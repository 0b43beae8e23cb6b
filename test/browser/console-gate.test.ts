import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import type { VHostsView } from '../../src/http/vhosts.ts';
import { PREFIX, blueGreenSpec, startEnv } from '../helpers/env.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';

const HOST = 'shop.example.com';

t.test('a flip to an unhealthy colour shows the failing servers and changes nothing; force needs a second confirmation', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } }));
  await env.until(HOST, { body: 'blue' });
  for (const pod of env.pods.filter((p) => p.colour === 'green')) pod.setHealthy(false);
  await waitUntil('green checked DOWN', async () => {
    const view = (await env.api('GET', '/v1/vhosts')).body as VHostsView;
    const green = view.vhosts[0]?.backends.find((b) => b.colour === 'green');
    return green?.servers.every((s) => s.status === 'DOWN') === true;
  }, 15000);
  const activeBefore = await env.client.get(`${PREFIX}vhosts/${HOST}/active`).string();

  const origin = `http://127.0.0.1:${env.apiPort}`;
  const browser = await launchBrowser(t);
  const { page, errors, outside } = await openPage(browser, origin);
  await page.goto(`${origin}/`);
  const card = page.locator(`article[data-host="${HOST}"]`);
  const green = card.locator('section[data-colour="green"]');
  await green.getByText('DOWN', { exact: true }).first().waitFor();
  t.match(await green.locator('.meta').textContent(), /0\/2 up \(needs 1\)/, 'the colour says in words that it is down');

  await page.locator(`#flip-${HOST.replace(/\./g, '\\.')}-green`).click();
  const dialog = page.locator('#flip-dialog');
  await dialog.locator('#flip-reason').fill('should not happen');
  await dialog.getByRole('button', { name: 'Flip', exact: true }).click();
  const refusal = dialog.locator('.refusal');
  await refusal.waitFor();
  t.match(await refusal.textContent(), /Refused \(FLIP_UNHEALTHY\): shop\.example\.com green has 0 of 2 servers up/);
  const failing = dialog.locator('table[aria-label="failing servers"] tbody tr');
  t.equal(await failing.count(), 2, 'each failing server is listed');
  // HAProxy marks a check that is running at that moment with "* " before its last result.
  for (const text of await failing.allTextContents()) t.match(text, /srv\d127\.0\.0\.1:\d+DOWN(\* )?L7STS/, "with HAProxy's status and check");
  t.equal(await env.client.get(`${PREFIX}vhosts/${HOST}/active`).string(), activeBefore, 'nothing was written to etcd');
  t.match((await env.get(HOST)).body, /^blue/, 'blue keeps serving');

  t.notOk(await dialog.locator('#flip-force-yes').isVisible(), 'force is not one click away');
  await dialog.getByRole('button', { name: 'Force…' }).click();
  await dialog.getByRole('button', { name: 'Yes, force the flip' }).click();
  await dialog.getByText(/Written at etcd revision \d+: blue → green/).waitFor();
  t.equal(await env.client.get(`${PREFIX}vhosts/${HOST}/active`).string(), 'green', 'the forced flip was written');
  await env.until(HOST, { status: 503 }, 5000);
  t.pass('HAProxy sends the vhost to green, whose servers are all down');
  await dialog.getByRole('button', { name: 'Close' }).click();
  const row = card.locator('.ledger tbody tr').first();
  await row.getByText('forced').waitFor();
  t.match(await row.textContent(), /blue → green\s*apiforced/);
  t.equal(await card.locator('.ledger tbody tr').count(), 1, 'the refused flip left no entry');
  // Chromium reports every non-2xx answer on the console; the refusal is the only one.
  t.same(errors, ['console error: Failed to load resource: the server responded with a status of 409 (Conflict)'], 'no other console error');
  t.same(outside, []);
});
