/**
 * The Runtime API fast path, measured end to end against real etcd, HAProxy
 * and pods: flip latency, endpoint change → served, a burst of 1,000
 * endpoint changes in 1 s, and one endpoint change among 10,000 vhosts × 10
 * servers. BENCH_RUNTIME_PARTS=flip,endpoint,burst,large picks parts.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Daemon } from '../../../src/commands/run.ts';
import type { Endpoint } from '../../../src/core/model.ts';
import { endpointKey } from '../../../src/core/slots.ts';
import { startPod, type Pod } from '../../../src/demo/pods.ts';
import { waitUntil } from '../../../src/demo/processes.ts';
import { RuntimeClient } from '../../../src/haproxy/runtime.ts';
import { blueGreenSpec, startEnv, type EnvOptions, type TestEnv } from '../../helpers/env.ts';
import { waitFor } from '../../helpers/wait.ts';
import { putAll } from '../etcd-bulk.ts';
import { firstAnswer, keepAlive } from '../first-answer.ts';
import { syntheticInputs } from '../fixtures.ts';
import { MemoryServices } from '../memory-source.ts';
import type { Scenario } from '../run.ts';
import { round, stagesP50, summary } from '../stats.ts';
import { Teardowns } from '../teardowns.ts';

const HOST = 'shop.example.com';
const FLIPS = 100;
const RELOADS = 10;
const ENDPOINT_CHANGES = 40;
const BURST = 1000;
const BURST_VHOSTS = 20;
const LARGE_VHOSTS = 10000;
const LARGE_SERVERS = 10;
const LARGE_CHANGES = 5;
// The product defaults, so latencies include the debounce an operator would see.
const SYNC = { debounceMs: 50, maxDelayMs: 1000 };

const PARTS: Record<string, () => Promise<Record<string, unknown>>> = {
  flip: flipLatency,
  endpoint: endpointChange,
  burst: endpointBurst,
  large: largeChange,
};

export const scenario: Scenario = {
  name: 'runtime',
  description:
    `Runtime API fast path with sync.debounceMs=${SYNC.debounceMs}: flip latency (etcd put → first response from the new colour, and from the put's acknowledgement; ${FLIPS} flips, each after ${2 * SYNC.debounceMs} ms of quiet, as an operator's) next to a structural change served by reload (${RELOADS}); ` +
    `endpoint change → served (${ENDPOINT_CHANGES}); ${BURST} endpoint changes in ~1 s → reloads and time to converge; ` +
    `one endpoint change among ${LARGE_VHOSTS} vhosts × ${LARGE_SERVERS} servers (no health checks) → served, daemon RSS, event-loop lag. ` +
    'Endpoints come from an in-memory source fed like an informer; the daemon runs in the bench process, so RSS includes the harness.',
  async run() {
    const wanted = (process.env['BENCH_RUNTIME_PARTS'] ?? Object.keys(PARTS).join(',')).split(',');
    const out: Record<string, unknown> = {};
    for (const [name, part] of Object.entries(PARTS)) if (wanted.includes(name)) out[name] = await part();
    return out;
  },
};

async function flipLatency(): Promise<Record<string, unknown>> {
  return withEnv({ config: { sync: SYNC } }, async (env) => {
    const daemon = await env.startDaemon();
    await env.putSpec(HOST, blueGreenSpec());
    await whenServed(env, daemon, HOST);
    const agent = keepAlive();
    const reloadsBefore = await env.reloads();
    const logsBefore = env.logs.length;
    const fromPut: number[] = [];
    const fromAck: number[] = [];
    let colour = 'blue';
    for (let i = 0; i < FLIPS; i++) {
      colour = colour === 'blue' ? 'green' : 'blue';
      const started = performance.now();
      const acked = env.putActive(HOST, colour).then(() => performance.now());
      const served = await firstAnswer(env, agent, HOST, (body) => body.startsWith(colour));
      fromPut.push(served - started);
      fromAck.push(served - (await acked));
      const live = `_${colour}\n`;
      await waitFor(() => daemon.reconciler.applied()?.rendered.maps['hosts.map']?.endsWith(live) === true, 10000, 'flip recorded');
      // An operator's flip comes after a quiet period: the one measured, not one batched with the flip before it.
      await sleep(2 * SYNC.debounceMs);
    }
    const flipReloads = (await env.reloads()) - reloadsBefore;
    const flipSyncs = syncDurations(env, logsBefore, 'runtime');
    const flipStages = stagesP50(env.logs.slice(logsBefore).filter((l) => l['mode'] === 'runtime').map((l) => l['stagesMs']));

    const reloadServed: number[] = [];
    for (let i = 0; i < RELOADS; i++) {
      const host = `new-${i}.example.com`;
      const started = performance.now();
      await env.putSpec(host, blueGreenSpec());
      reloadServed.push((await firstAnswer(env, agent, host, (body) => body.startsWith('blue'))) - started);
    }
    agent.destroy();
    return {
      flips: FLIPS,
      fromPutMs: summary(fromPut),
      fromAckMs: summary(fromAck),
      syncMs: summary(flipSyncs),
      syncStagesP50Ms: flipStages,
      reloadsDuringFlips: flipReloads,
      structuralChangeByReloadServedMs: summary(reloadServed),
    };
  });
}

async function endpointChange(): Promise<Record<string, unknown>> {
  return withEnv({ withStatic: false, services: { 'shop/web-blue': ['blue', 2] }, config: { sync: SYNC } }, async (env, teardowns) => {
    const pool = await pods(teardowns, 'blue', ENDPOINT_CHANGES);
    const live = [...env.pods];
    const source = new MemoryServices({ 'shop/web-blue': { ports: { http: live.map(endpointOf) } }, 'shop/web-green': { ports: { http: [] } } });
    const daemon = await env.startDaemon({ services: [source] });
    await env.putSpec(HOST, blueGreenSpec());
    await whenServed(env, daemon, HOST);
    const agent = keepAlive();
    const reloadsBefore = await env.reloads();
    const logsBefore = env.logs.length;
    const served: number[] = [];
    for (const incoming of pool) {
      live.shift();
      live.push(incoming);
      const started = performance.now();
      source.set('shop/web-blue', live.map(endpointOf));
      served.push((await firstAnswer(env, agent, HOST, (body) => body.includes(incoming.name))) - started);
      await waitFor(() => hasEndpoint(daemon, `be_${HOST}_blue`, endpointOf(incoming)), 10000, 'change recorded');
    }
    agent.destroy();
    return { changes: ENDPOINT_CHANGES, servedMs: summary(served), syncMs: summary(syncDurations(env, logsBefore, 'runtime')), reloads: (await env.reloads()) - reloadsBefore };
  });
}

async function endpointBurst(): Promise<Record<string, unknown>> {
  return withEnv({ withStatic: false, services: {}, config: { sync: SYNC } }, async (env) => {
    const services: Record<string, { ports: { http: Endpoint[] } }> = {};
    for (let v = 0; v < BURST_VHOSTS; v++) for (const colour of ['blue', 'green']) services[`shop/b${v}-${colour}`] = { ports: { http: burstEndpoints(v, 0) } };
    const source = new MemoryServices(services);
    const daemon = await env.startDaemon({ services: [source] });
    await Promise.all(Array.from({ length: BURST_VHOSTS }, (_, v) => env.putSpec(`b${v}.example.com`, blueGreenSpec(`b${v}`))));
    await waitFor(() => daemon.reconciler.applied()?.desired.vhosts.length === BURST_VHOSTS && daemon.reconciler.lastReport()?.ok === true, 30000, 'vhosts applied');
    const reloadsBefore = await env.reloads();
    const logsBefore = env.logs.length;
    const names = Object.keys(services);
    const expected = new Map<string, string[]>();

    const started = performance.now();
    for (let i = 0; i < BURST; i++) {
      const service = names[i % names.length] ?? '';
      const endpoints = burstEndpoints(i, 1 + (i % 3));
      source.set(service, endpoints);
      expected.set(backendOf(service), endpoints.map(endpointKey).sort());
      // Paced to spread the changes over about one second.
      if (i % 10 === 9) await sleep(Math.max(0, started + i + 1 - performance.now()));
    }
    const burstEnded = performance.now();
    const admin = new RuntimeClient({ socket: env.paths.admin });
    await waitUntil('HAProxy runs the last endpoints', async () => sameServers(await admin.showServersState(), expected), 60000);
    const converged = performance.now();
    const applies = env.logs.slice(logsBefore).filter((l) => typeof l['msg'] === 'string' && String(l['msg']).startsWith('applied by'));
    return {
      changes: BURST,
      backendsChanged: expected.size,
      changeWindowMs: round(burstEnded - started),
      reloads: (await env.reloads()) - reloadsBefore,
      applies: { runtime: applies.filter((l) => l['mode'] === 'runtime').length, reload: applies.filter((l) => l['mode'] === 'reload').length },
      convergedMsFromFirstChange: round(converged - started),
      convergedMsFromLastChange: round(converged - burstEnded),
    };
  });
}

async function largeChange(): Promise<Record<string, unknown>> {
  return withEnv({ withStatic: false, services: { 'ns/app0-blue': ['blue', 2] }, config: { sync: SYNC } }, async (env, teardowns) => {
    const host = 'app0.example.com';
    const { etcd, services } = syntheticInputs(LARGE_VHOSTS, LARGE_SERVERS);
    const live = [...env.pods];
    const source = new MemoryServices({ ...services.services, 'ns/app0-blue': { ports: { http: live.map(endpointOf) } } });
    await putAll(env, etcd.entries);
    const pool = await pods(teardowns, 'blue', LARGE_CHANGES);
    const rssBefore = process.memoryUsage().rss;

    const started = performance.now();
    const daemon = await env.startDaemon({ services: [source] });
    await whenServed(env, daemon, host, 300000);
    const firstApplyMs = performance.now() - started;
    const agent = keepAlive();
    const reloadsBefore = await env.reloads();
    const logsBefore = env.logs.length;
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const served: number[] = [];
    for (const incoming of pool) {
      live.shift();
      live.push(incoming);
      const changed = performance.now();
      source.set('ns/app0-blue', live.map(endpointOf));
      served.push((await firstAnswer(env, agent, host, (body) => body.includes(incoming.name), 120000)) - changed);
      await waitFor(() => hasEndpoint(daemon, 'be_app0.example.com_blue', endpointOf(incoming)), 120000, 'change recorded');
    }
    lag.disable();
    agent.destroy();
    const ms = (ns: number): number => round(ns / 1e6);
    return {
      vhosts: LARGE_VHOSTS,
      serversPerBackend: LARGE_SERVERS,
      firstApplyByReloadMs: round(firstApplyMs),
      changes: LARGE_CHANGES,
      servedMs: summary(served),
      syncMs: summary(syncDurations(env, logsBefore, 'runtime')),
      reloads: (await env.reloads()) - reloadsBefore,
      rssMiB: { beforeDaemon: mib(rssBefore), afterChanges: mib(process.memoryUsage().rss) },
      heapUsedMiB: mib(process.memoryUsage().heapUsed),
      eventLoopDelayMs: { p50: ms(lag.percentile(50)), p99: ms(lag.percentile(99)), max: ms(lag.max) },
    };
  });
}

async function withEnv<T>(opts: EnvOptions, fn: (env: TestEnv, teardowns: Teardowns) => Promise<T>): Promise<T> {
  const teardowns = new Teardowns();
  try {
    return await fn(await startEnv(teardowns, opts), teardowns);
  } finally {
    await teardowns.run();
  }
}

/** Waits until HAProxy serves the host and the daemon has recorded the apply. */
async function whenServed(env: TestEnv, daemon: Daemon, host: string, timeoutMs = 30000): Promise<void> {
  await env.until(host, { body: 'blue' }, timeoutMs);
  await waitFor(() => daemon.reconciler.applied()?.desired.vhosts.some((v) => v.host === host) === true && daemon.reconciler.lastReport()?.ok === true, timeoutMs, 'apply recorded');
}

async function pods(teardowns: Teardowns, colour: string, n: number): Promise<Pod[]> {
  const list: Pod[] = [];
  for (let i = 0; i < n; i++) {
    const pod = await startPod(colour, `${colour}-new-${i}`);
    teardowns.teardown(() => pod.close());
    list.push(pod);
  }
  return list;
}

function endpointOf(pod: Pod): Endpoint {
  return { address: '127.0.0.1', port: pod.port };
}

function hasEndpoint(daemon: Daemon, backend: string, endpoint: Endpoint): boolean {
  const key = endpointKey(endpoint);
  return daemon.reconciler.applied()?.layout[backend]?.some((s) => s.endpoint !== null && endpointKey(s.endpoint) === key) === true;
}

function syncDurations(env: TestEnv, from: number, mode: string): number[] {
  return env.logs.slice(from).filter((l) => l['mode'] === mode && typeof l['durationMs'] === 'number' && String(l['msg']).startsWith('applied by')).map((l) => l['durationMs'] as number);
}

/** 1–3 endpoints on addresses unique to change `i`: nothing listens there, and no health check looks. */
function burstEndpoints(i: number, count: number): Endpoint[] {
  return Array.from({ length: Math.max(count, 1) }, (_, k) => ({ address: `10.9.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`, port: 8000 + k }));
}

function backendOf(service: string): string {
  const m = /^shop\/(b\d+)-(blue|green)$/.exec(service);
  return `be_${m?.[1] ?? ''}.example.com_${m?.[2] ?? ''}`;
}

function sameServers(live: ReadonlyArray<{ backend: string; addr: string; port: number; adminState: string }>, expected: ReadonlyMap<string, readonly string[]>): boolean {
  for (const [backend, want] of expected) {
    const got = live.filter((s) => s.backend === backend && s.adminState === 'ready').map((s) => endpointKey({ address: s.addr, port: s.port })).sort();
    if (got.join() !== want.join()) return false;
  }
  return true;
}

function mib(bytes: number): number {
  return round(bytes / 2 ** 20, 1);
}
