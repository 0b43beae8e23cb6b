// Colour flips and pod churn over the Runtime API (no reload), kept by later reloads; failures fall back to a reload.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Daemon } from '../../src/commands/run.ts';
import { startPod, type Pod } from '../../src/demo/pods.ts';
import { waitUntil } from '../../src/demo/processes.ts';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';
import type { SyncReport } from '../../src/reconcile/reconciler.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import type { Teardown } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';
const BLUE = `be_${HOST}_blue`;
const GREEN = `be_${HOST}_green`;

/** Starts the daemon with the shop vhost served, and waits for that first apply to settle. */
async function served(env: TestEnv): Promise<Daemon> {
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  // HAProxy may serve the new config a moment before the reconciler has recorded the apply.
  const applied = (): boolean => daemon.reconciler.applied()?.desired.vhosts.some((v) => v.host === HOST) === true;
  await waitFor(() => applied() && daemon.reconciler.lastReport()?.ok === true, 15000, 'first apply');
  return daemon;
}

/** Waits for the first sync after `since` that applied something (not a noop) and returns its report. */
async function nextApply(daemon: Daemon, since: SyncReport | null): Promise<SyncReport> {
  let report: SyncReport | null = null;
  await waitFor(() => {
    report = daemon.reconciler.lastReport();
    return report !== null && report !== since && report.mode !== 'noop';
  }, 15000, 'an apply');
  if (report === null) throw new Error('unreachable');
  return report;
}

/** The pod names answering for a host over `n` fresh connections. */
async function answering(env: TestEnv, host: string, n = 12): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await env.get(host)).body.trim());
  return [...seen].sort();
}

/** "addr:port" of the slots HAProxy runs ready for a backend, sorted. */
async function readyServers(env: TestEnv, backend: string): Promise<string[]> {
  const servers = await new RuntimeClient({ socket: env.paths.admin }).showServersState(backend);
  return servers.filter((s) => s.adminState === 'ready').map((s) => `${s.addr}:${s.port}`).sort();
}

function at(...pods: Pod[]): string[] {
  return pods.map((p) => `127.0.0.1:${p.port}`).sort();
}

function podsOf(env: TestEnv, colour: string): Pod[] {
  return env.pods.filter((p) => p.colour === colour);
}

async function newPod(t: Teardown, colour: string, name: string): Promise<Pod> {
  const pod = await startPod(colour, name);
  t.teardown(() => pod.close());
  return pod;
}

/** The server lines of one backend in the rendered haproxy.cfg. */
function serverLines(env: TestEnv, backend: string): string[] {
  const section = readFileSync(env.paths.config, 'utf8').split(`backend ${backend}\n`)[1]?.split('\n\n')[0] ?? '';
  return section.split('\n').filter((l) => l.trim().startsWith('server '));
}

t.test('a flip and pod churn go through the Runtime API without a reload, and a later reload keeps them', async (t) => {
  const env = await startEnv(t);
  const daemon = await served(env);
  const reloads = await env.reloads();
  const [blue1, blue2] = podsOf(env, 'blue');
  const [green1, green2] = podsOf(env, 'green');
  if (!blue1 || !blue2 || !green1 || !green2) throw new Error('the env starts two pods per colour');

  let report = daemon.reconciler.lastReport();
  await env.putActive(HOST, 'green');
  report = await nextApply(daemon, report);
  t.match(report, { ok: true, mode: 'runtime', reason: `${HOST} → ${GREEN}` }, 'the flip is applied by the Runtime API');
  t.strictSame(await answering(env, HOST), ['green green-1', 'green green-2'], 'green serves');
  t.match(readFileSync(join(env.paths.mapsDir, 'hosts.map'), 'utf8'), `${HOST} ${GREEN}\n`, 'the map file holds the flip');

  const green3 = await newPod(t, 'green', 'green-3');
  env.writeServices({ 'shop/web-blue': [blue1, blue2], 'shop/web-green': [green1, green3] });
  report = await nextApply(daemon, report);
  t.match(report, { ok: true, mode: 'runtime' }, 'the churn is applied by the Runtime API');
  t.strictSame(await answering(env, HOST), ['green green-1', 'green green-3'], 'the new pod serves, the removed one no longer does');
  t.strictSame(await readyServers(env, GREEN), at(green1, green3), 'HAProxy runs exactly the two green endpoints');
  t.equal(await env.reloads(), reloads, 'no reload for the flip or the churn');
  const lines = serverLines(env, GREEN);
  t.ok(lines.some((l) => l.includes(`127.0.0.1:${green3.port}`) && !l.includes('disabled')), 'haproxy.cfg holds the new pod, enabled');
  t.notOk(lines.some((l) => l.includes(`:${green2.port}`)), 'haproxy.cfg no longer holds the removed pod');

  await env.putSpec('other.example.com', blueGreenSpec());
  report = await nextApply(daemon, report);
  t.match(report, { ok: true, mode: 'reload', reason: 'vhost other.example.com added' });
  await env.until('other.example.com', { body: 'blue' });
  t.equal(await env.reloads(), reloads + 1, 'the new vhost took one reload');
  t.strictSame(await answering(env, HOST), ['green green-1', 'green green-3'], 'after the reload, the flip and the churn still hold');
  t.strictSame(await readyServers(env, GREEN), at(green1, green3));
});

t.test('a refused runtime command falls back to a checked reload that ends in the right state', async (t) => {
  const env = await startEnv(t);
  const daemon = await served(env);
  const reloads = await env.reloads();
  // Out of band: the host's map entry is gone, so "set map" for the flip will be refused.
  await new RuntimeClient({ socket: env.paths.admin }).delMap(join(env.paths.mapsDir, 'hosts.map'), HOST);
  await env.until(HOST, { status: 404 });

  const before = daemon.reconciler.lastReport();
  await env.putActive(HOST, 'green');
  const report = await nextApply(daemon, before);
  t.match(report, { ok: true, mode: 'reload', fallback: { code: 'HAPROXY_COMMAND_FAILED', message: /entry not found/ } }, 'the refusal is reported and a reload applied the flip');
  t.strictSame(await answering(env, HOST), ['green green-1', 'green green-2'], 'green serves');
  t.equal(await env.reloads(), reloads + 1, 'exactly one reload');
  t.ok(env.logs.some((l) => l['code'] === 'HAPROXY_COMMAND_FAILED' && /falling back/.test(String(l['msg']))), 'the fallback is logged');

  const green3 = await newPod(t, 'green', 'green-3');
  env.writeServices({ 'shop/web-blue': podsOf(env, 'blue'), 'shop/web-green': [...podsOf(env, 'green'), green3] });
  t.match(await nextApply(daemon, report), { ok: true, mode: 'runtime' }, 'the next change goes by the Runtime API again');
  t.equal(await env.reloads(), reloads + 1);
});

t.test('drift seen when reading back falls back to a reload that repairs it', async (t) => {
  const env = await startEnv(t);
  const daemon = await served(env);
  const reloads = await env.reloads();
  const admin = new RuntimeClient({ socket: env.paths.admin });
  // Out of band: a live blue server is put into maintenance; the next blue churn reads the whole backend back.
  await admin.setServerState(BLUE, 'srv1', 'maint');

  const blue3 = await newPod(t, 'blue', 'blue-3');
  const before = daemon.reconciler.lastReport();
  env.writeServices({ 'shop/web-blue': [...podsOf(env, 'blue'), blue3], 'shop/web-green': podsOf(env, 'green') });
  const report = await nextApply(daemon, before);
  t.match(report, { ok: true, mode: 'reload', fallback: { code: 'HAPROXY_STATE_MISMATCH', message: new RegExp(`${BLUE}/srv1 holds .* but is maint`) } });
  t.equal(await env.reloads(), reloads + 1, 'one reload');
  t.strictSame(await readyServers(env, BLUE), at(...podsOf(env, 'blue'), blue3), 'every blue endpoint is ready again');
  t.strictSame(await answering(env, HOST), ['blue blue-1', 'blue blue-2', 'blue blue-3']);
});

t.test('slots grow by a reload when they run out, and shrink on a later reload', async (t) => {
  const env = await startEnv(t, { services: { 'shop/web-blue': ['blue', 3], 'shop/web-green': ['green', 1] }, config: { haproxy: { spareSlots: 1 } } });
  const [blue1, blue2, blue3] = podsOf(env, 'blue');
  const green = podsOf(env, 'green');
  if (!blue1 || !blue2 || !blue3) throw new Error('three blue pods');
  env.writeServices({ 'shop/web-blue': [blue1], 'shop/web-green': green });
  const daemon = await served(env);
  t.equal(serverLines(env, BLUE).length, 2, 'one server and one spare slot');

  let report = daemon.reconciler.lastReport();
  env.writeServices({ 'shop/web-blue': [blue1, blue2, blue3], 'shop/web-green': green });
  report = await nextApply(daemon, report);
  t.match(report, { ok: true, mode: 'reload', reason: `backend ${BLUE} ran out of server slots (3 servers, 2 slots)` });
  const grown = serverLines(env, BLUE);
  t.equal(grown.length, 4, 'three servers and one spare slot');
  t.match(grown[0], `server srv1 127.0.0.1:${blue1.port}`, 'the server that stayed kept its slot');
  t.strictSame(await answering(env, HOST), ['blue blue-1', 'blue blue-2', 'blue blue-3']);

  env.writeServices({ 'shop/web-blue': [blue1], 'shop/web-green': green });
  report = await nextApply(daemon, report);
  t.match(report, { ok: true, mode: 'runtime' }, 'servers leaving free their slots without a reload');
  t.equal(serverLines(env, BLUE).length, 4, 'the slots stay until a reload');
  t.strictSame(await answering(env, HOST), ['blue blue-1']);

  await env.putSpec('other.example.com', blueGreenSpec());
  report = await nextApply(daemon, report);
  t.match(report, { ok: true, mode: 'reload', reason: 'vhost other.example.com added' });
  const shrunk = serverLines(env, BLUE);
  t.equal(shrunk.length, 2, 'the reload gave back the surplus free slots');
  t.match(shrunk[0], `server srv1 127.0.0.1:${blue1.port}`);
  await waitUntil('blue still served', async () => (await answering(env, HOST, 4)).join() === 'blue blue-1', 5000);
});
