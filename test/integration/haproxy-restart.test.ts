// HAProxy restarted behind the daemon's back is noticed within resyncSeconds, counted, and checked against what was applied.
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

t.test('a stop and start of HAProxy with the same config is noticed and counted', async (t) => {
  const env = await startEnv(t, { config: { haproxy: { resyncSeconds: 1 } } });
  await served(env);
  t.equal(await restarts(env), 0);
  await env.haproxy.stop();
  const again = await startAgain(t, env);
  await waitUntil('the restart counted', async () => (await restarts(env)) === 1, 8000);
  t.ok(env.logs.some((l) => l['code'] === 'HAPROXY_DRIFT' && l['kind'] === 'restart'), 'logged');
  await env.until(HOST, { body: 'blue' });
  await waitUntil('ready again', async () => (await env.apiText('/readyz')).status === 200, 8000);
  await env.putActive(HOST, 'green');
  await env.until(HOST, { body: 'green' });
  t.ok(again.child.exitCode === null, 'the new HAProxy serves the next change');
});
