// While HAProxy cannot be asked, the daemon says "unknown since" with the last known state; once HAProxy is back, what it runs is re-applied.
import { join } from 'node:path';
import t from 'tap';
import type { Daemon } from '../../src/commands/run.ts';
import { startHaproxy, waitUntil, type HaproxyProcess } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { parseMetrics } from '../helpers/prometheus.ts';
import type { Teardown } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';

async function restarts(env: TestEnv): Promise<number> {
  return parseMetrics((await env.apiText('/metrics')).body).value('haproxy_sync_drift_repairs_total', { kind: 'restart' }) ?? NaN;
}

async function startAgain(t: Teardown, env: TestEnv): Promise<HaproxyProcess> {
  const haproxy = await startHaproxy({ config: env.paths.config, masterSocket: env.paths.master, pidFile: join(env.dir, 'haproxy.pid') });
  t.teardown(() => haproxy.stop());
  return haproxy;
}

async function served(env: TestEnv): Promise<Daemon> {
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  await waitFor(() => daemon.reconciler.applied() !== null && daemon.reconciler.lastReport()?.ok === true, 10000, 'applied');
  // One resync sees the master before it is restarted.
  await new Promise((r) => setTimeout(r, 1500));
  return daemon;
}

t.test('while HAProxy is down: unknown since, with the last known state; a change made meanwhile is served once it is back', async (t) => {
  const env = await startEnv(t, { config: { haproxy: { resyncSeconds: 1 } } });
  const daemon = await served(env);
  const revision = daemon.reconciler.applied()?.desired.revision ?? 0;
  await env.haproxy.stop();

  await waitUntil('unknown reported', async () => (await env.apiText('/readyz')).status === 503, 8000);
  const ready = JSON.parse((await env.apiText('/readyz')).body) as { reasons: string[]; revision: number; haproxy: { known: boolean; unknownSince: string } };
  t.match(ready.reasons.join('\n'), /what HAProxy runs is unknown since \d{4}-/, '/readyz says unknown since when');
  t.equal(ready.haproxy.known, false);
  t.equal(ready.revision, revision, 'with the last known revision, not 0');
  const vhosts = (await env.api('GET', '/v1/vhosts')).body as { revision: number; haproxy: { known: boolean }; vhosts: Array<{ host: string; active: string }> };
  t.match(vhosts, { revision, haproxy: { known: false }, vhosts: [{ host: HOST, active: 'blue' }] }, '/v1/vhosts keeps the last known vhosts');
  await waitUntil('node key says unknown', async () => {
    const node = JSON.parse((await env.client.get('/haproxy-sync/nodes/test-lb').string()) ?? '{}') as { revision?: number; haproxy?: { known: boolean } };
    return node.haproxy?.known === false && node.revision === revision;
  }, 8000);
  t.pass('the node key says unknown, with the last known revision');

  await env.putActive(HOST, 'green');
  await new Promise((r) => setTimeout(r, 500));
  await startAgain(t, env);
  await env.until(HOST, { body: 'green' }, 15000);
  await waitUntil('ready again', async () => (await env.apiText('/readyz')).status === 200, 15000);
  t.equal(daemon.reconciler.unknownSince(), null, 'known again');
  // The change made meanwhile may be applied by the sync after the one that finds HAProxy again.
  await waitFor(() => daemon.reconciler.applied()?.desired.vhosts[0]?.active === 'green', 15000, 'the change made meanwhile applied');
  t.pass('the change made meanwhile is applied');
  await waitUntil('the restart counted', async () => (await restarts(env)) === 1, 8000);
});
