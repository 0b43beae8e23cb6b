// Out-of-band changes to HAProxy's runtime state are found within haproxy.resyncSeconds, logged, counted and repaired.
import { join } from 'node:path';
import t from 'tap';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';
import { waitUntil } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { parseMetrics } from '../helpers/prometheus.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';
const BLUE = `be_${HOST}_blue`;
const GREEN = `be_${HOST}_green`;
const RESYNC_SECONDS = 1;
// The bound plus the sync's debounce and a loaded machine's slack.
const REPAIR_BOUND_MS = RESYNC_SECONDS * 1000 + 2500;

async function drifts(env: TestEnv, kind: string): Promise<number> {
  return parseMetrics((await env.apiText('/metrics')).body).value('haproxy_sync_drift_repairs_total', { kind }) ?? NaN;
}

/** Makes an out-of-band change, then waits for `repaired`; returns how long the repair took. */
async function repairTime(what: string, change: () => Promise<unknown>, repaired: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  await change();
  await waitUntil(what, repaired, REPAIR_BOUND_MS + 5000);
  return Date.now() - started;
}

t.test('set map, set server addr and disable server out of band are repaired over the Runtime API and counted', async (t) => {
  const env = await startEnv(t, { config: { haproxy: { resyncSeconds: RESYNC_SECONDS } } });
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  // The next out-of-band change waits until the daemon has finished the repair before (its read-back included).
  const settled = (where: string): Promise<void> =>
    waitFor(() => daemon.reconciler.lastReport()?.ok === true && (daemon.reconciler.lastReport()?.reason ?? '').includes(where), 5000, `repair of ${where} recorded`);
  const admin = new RuntimeClient({ socket: env.paths.admin });
  const green = env.pods.filter((p) => p.colour === 'green');
  const reloads = await env.reloads();
  const hostsMap = join(env.paths.mapsDir, 'hosts.map');
  const server = async (name: string) => (await admin.showServersState(BLUE)).find((s) => s.name === name);

  const mapMs = await repairTime('map repaired', () => admin.setMap(hostsMap, HOST, GREEN), async () => (await admin.showMap(hostsMap)).get(HOST) === BLUE);
  t.ok(mapMs < REPAIR_BOUND_MS, `set map repaired in ${mapMs} ms`);
  await settled(`hosts.map ${HOST}`);
  t.match((await env.get(HOST)).body, /^blue/, 'blue serves again');
  t.equal(await drifts(env, 'map'), 1, 'counted as map drift');
  t.match(env.logs.find((l) => l['code'] === 'HAPROXY_DRIFT' && l['kind'] === 'map'), { where: `hosts.map ${HOST}`, expected: BLUE, found: GREEN }, 'logged: what, where, expected, found');

  const srv1Port = (await server('srv1'))?.port;
  const addrMs = await repairTime(
    'address repaired',
    () => admin.command(`set server ${BLUE}/srv1 addr 127.0.0.1 port ${green[0]?.port ?? 1}`),
    async () => (await server('srv1'))?.port === srv1Port,
  );
  t.ok(addrMs < REPAIR_BOUND_MS, `set server addr repaired in ${addrMs} ms`);
  await settled(`${BLUE}/srv1`);
  t.equal(await drifts(env, 'server_addr'), 1, 'counted as server_addr drift');

  const stateMs = await repairTime('admin state repaired', () => admin.command(`disable server ${BLUE}/srv2`), async () => (await server('srv2'))?.adminState === 'ready');
  t.ok(stateMs < REPAIR_BOUND_MS, `disable server repaired in ${stateMs} ms`);
  await settled(`${BLUE}/srv2`);
  t.equal(await drifts(env, 'server_state'), 1, 'counted as server_state drift');

  t.equal(await env.reloads(), reloads, 'all three repaired without a reload');
  t.strictSame(await env.servedBy(HOST, 8), ['blue blue-1', 'blue blue-2']);

  await repairTime('a deleted map key repaired by a reload', () => admin.delMap(hostsMap, HOST), async () => (await admin.showMap(hostsMap)).get(HOST) === BLUE);
  t.equal(await env.reloads(), reloads + 1, 'a missing map key takes a checked reload');
  t.equal(await drifts(env, 'map'), 2);
  await env.until(HOST, { body: 'blue' });
});

t.test('with resyncSeconds 0 nothing is compared', async (t) => {
  const env = await startEnv(t, { config: { haproxy: { resyncSeconds: 0 } } });
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  const admin = new RuntimeClient({ socket: env.paths.admin });
  await admin.setMap(join(env.paths.mapsDir, 'hosts.map'), HOST, GREEN);
  await new Promise((r) => setTimeout(r, 2500));
  t.match((await env.get(HOST)).body, /^green/, 'the out-of-band change stands');
  t.equal(await drifts(env, 'map'), 0);
});
