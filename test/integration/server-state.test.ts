// Health HAProxy found survives reloads: the server-state file is written just before each reload.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';
import { waitUntil } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { startLoad } from '../helpers/load.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';
const BLUE = `be_${HOST}_blue`;
const HEALTH = { health: { path: '/healthz', minReady: 1 } };

t.test('a pod whose health check fails gets no request across 10 reloads', async (t) => {
  const env = await startEnv(t, { services: { 'shop/web-blue': ['blue', 3], 'shop/web-green': ['green', 1] } });
  const failing = env.pods.find((p) => p.name === 'blue-1');
  if (!failing) throw new Error('blue-1');
  failing.setHealthy(false);
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec('web', HEALTH));
  await env.until(HOST, { body: 'blue' });
  const admin = new RuntimeClient({ socket: env.paths.admin });
  const failingSlot = async (): Promise<string> => {
    const servers = await admin.showStat();
    const row = servers.find((s) => s.pxname === BLUE && s.addr === `127.0.0.1:${failing.port}`);
    return row?.status ?? 'absent';
  };
  await waitUntil('HAProxy marks the failing pod DOWN', async () => (await failingSlot()) === 'DOWN', 15000);

  // Each reload adds a vhost whose new backends have no health history yet; only the shop's requests count.
  const before = failing.requests(HOST);
  const load = startLoad({ port: env.httpPort, host: HOST, keepAlive: 1, fresh: 2, maxMs: 45000 });
  t.teardown(() => load.stop());
  const reloads = await env.reloads();
  for (let i = 1; i <= 10; i++) {
    await env.putSpec(`r${i}.example.com`, blueGreenSpec('web', HEALTH));
    await env.until(`r${i}.example.com`, { body: 'blue' });
    await waitFor(() => daemon.reconciler.applied()?.desired.vhosts.length === i + 1, 10000, `reload ${i} recorded`);
    t.equal(await failingSlot(), 'DOWN', `after reload ${i}, HAProxy still has the failing pod DOWN`);
  }
  t.equal(await env.reloads(), reloads + 10, 'ten reloads');
  const result = await load.stop();
  t.ok(result.ok > 100, `${result.ok} requests answered`);
  t.strictSame(result.failures, {}, 'no request failed');
  t.equal(failing.requests(HOST) - before, 0, `the failing pod received no request (load: ${JSON.stringify(result)})`);
  t.ok(env.pods.filter((p) => p.colour === 'blue' && p !== failing).every((p) => p.requests() > 0), 'the healthy pods served');
  t.equal(readFileSync(`${env.dir}/state/server-state`, 'utf8'), '1\n', 'after the reload, the saved state is cleared again');
});
