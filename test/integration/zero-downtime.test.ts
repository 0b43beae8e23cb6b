// No client request fails across Runtime API flips, pod churn and seamless reloads; a hard restart, the negative control, does fail some.
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Daemon } from '../../src/commands/run.ts';
import { startPod, type Pod } from '../../src/demo/pods.ts';
import { startHaproxy, waitUntil } from '../../src/demo/processes.ts';
import { MasterClient } from '../../src/haproxy/master.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { startLoad } from '../helpers/load.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';
const ROUNDS = 32;
const LOAD = { host: HOST, keepAlive: 4, fresh: 4, maxMs: 55000 };

async function served(env: TestEnv): Promise<Daemon> {
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  await waitFor(() => daemon.reconciler.applied()?.desired.vhosts.length === 1, 15000, 'first apply recorded');
  return daemon;
}

function runtimeApplies(env: TestEnv): number {
  return env.logs.filter((l) => l['msg'] === 'applied by runtime').length;
}

/** Replaces one pod of `colour` by a new one; the old pod stops only once HAProxy no longer sends it requests, as a terminating pod would. */
async function churn(env: TestEnv, pods: Record<string, Pod[]>, colour: string, round: number): Promise<void> {
  const list = pods[colour] ?? [];
  const leaving = list.shift();
  const fresh = await startPod(colour, `${colour}-r${round}`);
  list.push(fresh);
  env.writeServices({ 'shop/web-blue': pods['blue'] ?? [], 'shop/web-green': pods['green'] ?? [] });
  await waitUntil(`${fresh.name} serving`, async () => {
    for (let i = 0; i < 4; i++) if ((await env.get(HOST)).body.includes(fresh.name)) return true;
    return false;
  }, 10000);
  await leaving?.close();
}

t.test(`0 failed requests under keep-alive and new-connection load through ${ROUNDS} flips, ${ROUNDS} reloads and pod churn`, async (t) => {
  const env = await startEnv(t);
  await served(env);
  const pods: Record<string, Pod[]> = { blue: env.pods.filter((p) => p.colour === 'blue'), green: env.pods.filter((p) => p.colour === 'green') };
  t.teardown(async () => void (await Promise.all([...(pods['blue'] ?? []), ...(pods['green'] ?? [])].map((p) => p.close()))));
  const reloadsBefore = await env.reloads();
  const runtimeBefore = runtimeApplies(env);

  const load = startLoad({ ...LOAD, port: env.httpPort });
  let colour = 'blue';
  for (let round = 0; round < ROUNDS; round++) {
    colour = colour === 'blue' ? 'green' : 'blue';
    await env.putActive(HOST, colour);
    await env.until(HOST, { body: colour });

    const reloads = await env.reloads();
    const extra = `extra-${Math.floor(round / 2)}.example.com`;
    await (round % 2 === 0 ? env.putSpec(extra, blueGreenSpec()) : env.del(`vhosts/${extra}/spec`));
    await waitUntil('a reload', async () => (await env.reloads()) > reloads, 15000);

    if (round % 4 === 3) await churn(env, pods, colour, round);
  }
  await sleep(200);
  const result = await load.stop();

  const reloads = (await env.reloads()) - reloadsBefore;
  const flipsAndChurn = runtimeApplies(env) - runtimeBefore;
  t.ok(reloads >= ROUNDS, `${reloads} reloads`);
  t.ok(flipsAndChurn >= ROUNDS + ROUNDS / 4, `${flipsAndChurn} changes applied by the Runtime API (${ROUNDS} flips, ${ROUNDS / 4} churns)`);
  t.ok(result.ok > 1000, `${result.ok} requests answered`);
  t.equal(result.failed, 0, `no request failed (${JSON.stringify(result.failures)})`);
});

t.test('negative control: a hard restart of HAProxy fails requests, and the same harness sees it', async (t) => {
  const env = await startEnv(t);
  await served(env);
  const load = startLoad({ ...LOAD, port: env.httpPort });
  await waitUntil('load flowing', async () => load.now().ok > 200, 10000);

  const proc = await new MasterClient({ socket: env.paths.master }).showProc();
  for (const p of [proc.master, ...proc.workers]) process.kill(p.pid, 'SIGKILL');
  await new Promise((resolve) => (env.haproxy.child.exitCode === null && env.haproxy.child.signalCode === null ? env.haproxy.child.once('exit', resolve) : resolve(null)));
  const again = await startHaproxy({ config: env.paths.config, masterSocket: env.paths.master, pidFile: join(env.dir, 'haproxy-again.pid') });
  t.teardown(() => again.stop());
  const okAfterRestart = load.now().ok;
  await waitUntil('load flowing again', async () => load.now().ok > okAfterRestart + 200, 10000);
  const result = await load.stop();

  t.ok(result.failed > 0, `the restart failed ${result.failed} requests (${JSON.stringify(result.failures)})`);
  t.ok(result.ok > 400, `${result.ok} requests answered around it`);
});
