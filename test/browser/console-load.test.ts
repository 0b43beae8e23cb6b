import t from 'tap';
import { PREFIX, blueGreenSpec, startEnv } from '../helpers/env.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';
import { etcdctl } from '../helpers/etcdctl.ts';

const HOST = 'shop.example.com';

t.test('the console loads with no error and no request outside the daemon, shows the fleet, and follows an etcdctl flip within 2 s', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } }));
  await env.putSpec('bad.example.com', '{"backends": ');
  await env.until(HOST, { body: 'blue' });
  const origin = `http://127.0.0.1:${env.apiPort}`;
  const browser = await launchBrowser(t);
  const { page, errors, outside, requests } = await openPage(browser, origin);

  const res = await page.goto(`${origin}/`);
  t.equal(res?.status(), 200);
  t.match(res?.headers()['content-security-policy'], /default-src 'none'; script-src 'self'/, 'strict CSP');
  const card = page.locator(`article[data-host="${HOST}"]`);
  await card.getByText('live: blue').waitFor();
  t.match(await card.locator('h3').textContent(), /shop\.example\.com\s*live: blue/);
  const green = card.locator('section[data-colour="green"]');
  await green.getByText('UP', { exact: true }).first().waitFor({ timeout: 15000 });
  t.match(await green.locator('.meta').textContent(), /Service shop\/web-green:http · 2 ready · \d\/2 up \(needs 1\)/);
  t.equal(await green.locator('tbody tr').count(), 2, 'one row per server');
  t.match(await green.locator('tbody tr').first().textContent(), /127\.0\.0\.1:\d+/, 'with its address');
  t.equal(await card.locator('section[data-colour="blue"] button').isDisabled(), true, 'the live colour cannot be flipped to');
  t.match(await card.locator('.fleet').textContent(), /test-lb: blue\s*in step/i);
  t.match(await page.locator('#problems').textContent(), /SPEC_INVALID etcd key \/haproxy-sync\/vhosts\/bad\.example\.com\/spec: not valid JSON/);
  t.match(await page.locator('#applies').textContent(), /OK\s*reload/, 'the last applies, with their mode');
  t.match(await page.locator('#nodes').textContent(), /test-lb \(this node\)/);
  t.match(await card.locator('.ledger').textContent(), /No flips recorded/);

  // A flip by hand shows up without reloading the page.
  const before = requests.filter((u) => u.endsWith('/')).length;
  t.equal(await etcdctl(env.etcd.endpoint, ['put', `${PREFIX}vhosts/${HOST}/active`, 'green']), 0);
  const flippedAt = Date.now();
  await card.getByText('live: green').waitFor({ timeout: 2000 });
  await card.locator('.ledger tbody tr').first().getByText('etcd').waitFor({ timeout: 2000 });
  t.ok(Date.now() - flippedAt <= 2000, `seen on the page within 2 s (${Date.now() - flippedAt} ms)`);
  t.match(await card.locator('.ledger tbody tr').first().textContent(), /blue → green\s*etcd/);
  t.equal(requests.filter((u) => u.endsWith('/')).length, before, 'without loading the page again');

  t.same(errors, [], 'no console error, page error or failed request');
  t.same(outside, [], 'no request outside the daemon');
  t.ok(requests.some((u) => u.endsWith('/v1/vhosts')), 'the page reads the API');
});
