/**
 * `npm run screenshot`: docs/console.png, the console of a small fleet (two
 * load balancers, two vhosts, one of them broken) after a flip through the
 * API and one with etcdctl, taken in Debian's headless Chromium.
 */
import { join } from 'node:path';
import { waitUntil } from '../../src/demo/processes.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';
import { blueGreenSpec, startFleet } from '../helpers/env.ts';
import type { Teardown } from '../helpers/tmp.ts';

const OUT = join(import.meta.dirname, '../../docs/console.png');
const HOST = 'shop.example.com';

const cleanups: Array<() => void | Promise<void>> = [];
const t: Teardown = { teardown: (fn) => void cleanups.push(fn) };

try {
  const { env, nodes } = await startFleet(t, ['lb-1', 'lb-2'], { services: { 'shop/web-blue': ['blue', 2], 'shop/web-green': ['green', 3], 'shop/api-blue': ['blue', 1], 'shop/api-green': ['green', 1] } });
  await Promise.all(nodes.map((n) => n.startDaemon()));
  await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 2 } }));
  await env.putSpec('api.example.com', blueGreenSpec('api', { health: { path: '/healthz', minReady: 1 } }));
  await env.putSpec('bad.example.com', '{"backends": {"blue": {"service": "shop/web-blue", "port": "http"}}, "default": "green"}');
  await Promise.all(nodes.map((n) => n.until(HOST, { body: 'blue' })));
  const flip = await env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', reason: 'release 4.2: canary passed' });
  if (flip.status !== 200) throw new Error(`flip answered ${flip.status}: ${JSON.stringify(flip.body)}`);
  await env.putActive('api.example.com', 'green');
  await Promise.all(nodes.map((n) => n.until('api.example.com', { body: 'green' })));
  env.pods.find((p) => p.name === 'blue-2' && p.colour === 'blue')?.setHealthy(false);

  const origin = `http://127.0.0.1:${env.apiPort}`;
  const browser = await launchBrowser(t);
  const { page, errors } = await openPage(browser, origin, { width: 1280, height: 900 });
  await page.goto(`${origin}/`);
  await page.locator(`article[data-host="${HOST}"] .ledger .served`).first().waitFor({ timeout: 15000 });
  await waitUntil('a DOWN server on the page', async () => (await page.getByText('DOWN', { exact: true }).count()) > 0, 20000);
  await page.screenshot({ path: OUT, fullPage: true });
  if (errors.length > 0) throw new Error(`the page reported errors: ${errors.join('; ')}`);
  process.stdout.write(`${OUT}\n`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
