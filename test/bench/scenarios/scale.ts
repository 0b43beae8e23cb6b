/**
 * The daemon at scale, in its own process, as a user runs it: real etcd,
 * HAProxy and pods, and the fake Kubernetes API server (real wire protocol)
 * holding SCALE_VHOSTS (default 10,000) vhosts × 2 colours × 10 endpoints.
 * `haproxy-sync run --config FILE` is spawned with the product's default
 * sync settings. Measured: cold start (spawn → first vhost served) next to
 * the daemon's own `haproxy -c` and reload times; SCALE_CHANGES (default 20)
 * EndpointSlice changes of one service → first answer from the new pod; the
 * daemon's RSS (VmRSS, VmHWM), its event-loop delay (from its /metrics) and
 * its /healthz response time while the changes flow. A second pass turns
 * health checks on, at the most vhosts the file-descriptor limit lets
 * HAProxy check. SCALE_PASSES=plain,health picks passes; SCALE_CPU_PROF=1
 * adds the daemon's top functions by self time (node --cpu-prof).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { loadConfig } from '../../../src/config.ts';
import { haproxyBinary } from '../../../src/demo/haproxy-binary.ts';
import { httpGet } from '../../../src/demo/http-get.ts';
import type { Pod } from '../../../src/demo/pods.ts';
import { stopChild, waitUntil, type Managed } from '../../../src/demo/processes.ts';
import { RuntimeClient } from '../../../src/haproxy/runtime.ts';
import { startEnv, type TestEnv } from '../../helpers/env.ts';
import { parseMetrics, type Scrape } from '../../helpers/prometheus.ts';
import { ChildLogs } from '../child-logs.ts';
import { topSelfTime } from '../cpu-profile.ts';
import { putAll } from '../etcd-bulk.ts';
import { publishSyntheticServices } from '../fake-cluster.ts';
import { firstAnswer, keepAlive } from '../first-answer.ts';
import { syntheticInputs } from '../fixtures.ts';
import { MemorySampler, openFilesLimit } from '../proc-memory.ts';
import type { Scenario } from '../run.ts';
import { round, stagesP50, summary } from '../stats.ts';
import { Teardowns } from '../teardowns.ts';

const VHOSTS = positiveInt('SCALE_VHOSTS', 10000);
const CHANGES = positiveInt('SCALE_CHANGES', 20);
const SERVERS = 10;
const HOST = 'app0.example.com';
const MEASURED = 'ns/app0-blue';
const PRODUCT = loadConfig({ file: null, required: false, env: {}, flags: {} });
// The Kubernetes section's default, which the test env shortens to 5 s for its fault tests.
const WATCH_TIMEOUT_SECONDS = 25;
/** Descriptors left to HAProxy beyond its checks: listeners, sockets, and about 1,000 connections (2 each). */
const FD_RESERVE = 2500;
const HEALTHZ_EVERY_MS = 20;
/** Between measured changes: twice the debounce, so each change comes after a quiet period. */
const QUIET_MS = 2 * PRODUCT.sync.debounceMs;
const COLD_START_TIMEOUT_MS = 10 * 60 * 1000;

export const scenario: Scenario = {
  name: 'scale',
  description:
    `haproxy-sync run as its own process with the product's sync defaults (debounce ${PRODUCT.sync.debounceMs} ms, max delay ${PRODUCT.sync.maxDelayMs} ms; measured changes ${2 * PRODUCT.sync.debounceMs} ms apart) against real etcd, HAProxy and pods and the fake Kubernetes API server ` +
    `holding ${VHOSTS} vhosts × 2 colours × ${SERVERS} endpoints: cold start (spawn → first vhost served) next to HAProxy's own check and reload times; ` +
    `${CHANGES} EndpointSlice changes → first answer from the new pod; daemon RSS, event-loop delay and /healthz response time during the changes. ` +
    'Pass "health" repeats it with health checks on, at the most vhosts the file-descriptor limit lets HAProxy check.',
  async run() {
    const wanted = (process.env['SCALE_PASSES'] ?? 'plain,health').split(',');
    const out: Record<string, unknown> = {};
    if (wanted.includes('plain')) out['plain'] = await pass(VHOSTS, false, 'no health checks');
    if (wanted.includes('health')) {
      const sized = healthSize();
      out['health'] = { ...(await pass(sized.vhosts, true, sized.why)), fdLimit: sized.limit };
    }
    return out;
  },
};

/**
 * HAProxy reserves a descriptor for every server line with `check`, spare
 * slots included (a slot filled over the Runtime API starts checking without
 * a reload). Node raises its own soft limit to the hard one at start, and
 * HAProxy, spawned from here, inherits it.
 */
function healthSize(): { vhosts: number; why: string; limit: { soft: number; hard: number } } {
  const limit = openFilesLimit('self');
  const perVhost = 2 * (SERVERS + PRODUCT.haproxy.spareSlots);
  const fit = Math.floor((limit.hard - FD_RESERVE) / perVhost);
  const vhosts = Math.max(1, Math.min(VHOSTS, fit));
  const why =
    `open files limit ${limit.soft} soft / ${limit.hard} hard (HAProxy inherits the soft one, which Node raised to the hard one); ` +
    `${perVhost} checked server lines per vhost (2 colours × (${SERVERS} + ${PRODUCT.haproxy.spareSlots} spare)), ${FD_RESERVE} descriptors kept for connections and sockets: ` +
    `(${limit.hard} − ${FD_RESERVE}) / ${perVhost} = ${fit}${fit > VHOSTS ? `, capped at SCALE_VHOSTS=${VHOSTS}` : ''}`;
  return { vhosts, why, limit };
}

async function pass(vhosts: number, health: boolean, why: string): Promise<Record<string, unknown>> {
  const teardowns = new Teardowns();
  try {
    return await measure(teardowns, vhosts, health, why);
  } finally {
    await teardowns.run();
  }
}

async function measure(teardowns: Teardowns, vhosts: number, health: boolean, why: string): Promise<Record<string, unknown>> {
  const env = await startEnv(teardowns, {
    kubernetes: { watchTimeoutSeconds: WATCH_TIMEOUT_SECONDS },
    withStatic: false,
    services: { [MEASURED]: ['blue', 2] },
    config: { sync: PRODUCT.sync, log: { level: 'info' } },
  });
  const kube = env.kube;
  if (!kube) throw new Error('the scale scenario needs the fake API server');
  const setupStarted = performance.now();
  publishSyntheticServices(kube, vhosts, SERVERS, new Set([MEASURED]));
  const apiServerFilledMs = performance.now() - setupStarted;
  const etcdStarted = performance.now();
  await putAll(env, syntheticInputs(vhosts, SERVERS, health).etcd.entries);
  const etcdFilledMs = performance.now() - etcdStarted;
  const pool: Pod[] = [];
  for (let i = 0; i < CHANGES; i++) pool.push(await env.startPod('blue', `blue-new-${i}`));

  const profileDir = process.env['SCALE_CPU_PROF'] === '1' ? mkdtempSync(join(tmpdir(), 'scale-prof-')) : null;
  if (profileDir) teardowns.teardown(() => rmSync(profileDir, { recursive: true, force: true }));
  const spawned = performance.now();
  const daemon = env.spawnDaemon(profileDir ? { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } } : {});
  const pid = daemon.child.pid;
  if (pid === undefined) throw new Error(`the daemon did not start: ${daemon.output()}`);
  const logs = new ChildLogs(daemon.child.stdout);
  const memory = new MemorySampler(pid);
  teardowns.teardown(() => memory.stop());

  const cold = await coldStart(env, daemon, logs, spawned);
  const afterCold = memory.sample();
  const coldMetrics = await scrape(env); // also starts the event-loop window of the changes
  const ownCheckMs = await haproxyCheck(env.paths.config);
  const changes = await changeSeries(env, daemon, logs, pool);
  const changeMetrics = await scrape(env);
  const end = memory.sample();

  const profile = profileDir ? await profileOf(daemon, profileDir) : undefined;
  return {
    vhosts,
    why,
    serversPerBackend: SERVERS,
    healthChecks: health,
    setup: { apiServerObjects: kube.list('services').length + kube.list('endpointslices').length, apiServerFilledMs: round(apiServerFilledMs), etcdKeys: vhosts, etcdFilledMs: round(etcdFilledMs) },
    coldStart: {
      ...cold,
      haproxyCheckMs: seconds(coldMetrics, 'haproxy_sync_config_check_duration_seconds_sum'),
      haproxyChecks: coldMetrics.value('haproxy_sync_config_checks_total', { result: 'success' }),
      haproxyReloadMs: seconds(coldMetrics, 'haproxy_sync_reload_duration_seconds_sum'),
      haproxyReloads: coldMetrics.value('haproxy_sync_reloads_total', { result: 'success' }),
      renderMs: seconds(coldMetrics, 'haproxy_sync_render_duration_seconds_sum'),
      haproxyCheckOutsideDaemonMs: ownCheckMs,
      eventLoopDelayMs: lagOf(coldMetrics),
    },
    changes: changes.result,
    rssMiB: { afterColdStart: afterCold?.rssMiB, maxDuringChanges: memory.maxRss(changes.startedAt), afterChanges: end?.rssMiB, peakVmHWM: end?.hwmMiB },
    eventLoopDelayDuringChangesMs: lagOf(changeMetrics),
    appliesDuringChanges: {
      runtime: delta(coldMetrics, changeMetrics, 'haproxy_sync_applies_total', { mode: 'runtime' }),
      reload: delta(coldMetrics, changeMetrics, 'haproxy_sync_applies_total', { mode: 'reload' }),
    },
    haproxy: health ? await haproxyLimits(env) : undefined,
    ...(profile ? { cpuProfile: profile } : {}),
  };
}

async function coldStart(env: TestEnv, daemon: Managed, logs: ChildLogs, spawned: number): Promise<Record<string, unknown>> {
  await waitUntil('daemon API', async () => (await env.apiText('/healthz')).status === 200, COLD_START_TIMEOUT_MS, daemon);
  const apiUp = performance.now();
  await waitUntil(`${HOST} served`, async () => (await env.get(HOST)).body.startsWith('blue'), COLD_START_TIMEOUT_MS, daemon);
  const served = performance.now();
  // HAProxy may serve the new config before the daemon has confirmed the reload in `show proc`.
  await waitUntil('first apply logged', async () => logs.applies().length > 0, COLD_START_TIMEOUT_MS, daemon);
  await waitUntil('daemon ready', async () => (await env.apiText('/readyz')).status === 200, COLD_START_TIMEOUT_MS, daemon);
  const firstApply = logs.applies()[0];
  return {
    apiUpMs: round(apiUp - spawned),
    firstApplyLoggedMs: firstApply ? round(firstApply.at - spawned) : null,
    firstApplyMode: firstApply?.record['mode'] ?? null,
    firstApplyDurationMs: firstApply?.record['durationMs'] ?? null,
    firstServedMs: round(served - spawned),
  };
}

async function changeSeries(env: TestEnv, daemon: Managed, logs: ChildLogs, pool: readonly Pod[]): Promise<{ startedAt: number; result: Record<string, unknown> }> {
  const agent = keepAlive();
  const healthz = probeHealthz(env);
  const reloadsBefore = await env.reloads();
  const live = env.pods.filter((p) => p.name.startsWith('blue-') && !p.name.startsWith('blue-new-'));
  const startedAt = performance.now();
  const served: number[] = [];
  const logged: number[] = [];
  try {
    for (const incoming of pool) {
      live.shift();
      live.push(incoming);
      const appliesBefore = logs.applies().length;
      const changed = performance.now();
      env.publish(MEASURED, live);
      served.push((await firstAnswer(env, agent, HOST, (body) => body.includes(incoming.name), 120000)) - changed);
      // The next change waits for this one's apply to finish, so each is timed alone.
      await waitUntil('change applied', async () => logs.applies().length > appliesBefore, 120000, daemon);
      logged.push((logs.applies()[appliesBefore]?.at ?? Number.NaN) - changed);
      // A change after a quiet period, as the daemon's leading edge applies it; one right after a sync would be batched.
      await sleep(QUIET_MS);
    }
  } finally {
    agent.destroy();
  }
  const healthzMs = await healthz.stop();
  return {
    startedAt,
    result: {
      changes: pool.length,
      servedMs: summary(served),
      applyLoggedMs: summary(logged),
      syncMs: summary(logs.applies().filter((l) => l.at >= startedAt).map((l) => Number(l.record['durationMs']))),
      syncStagesP50Ms: stagesP50(logs.applies().filter((l) => l.at >= startedAt).map((l) => l.record['stagesMs'])),
      reloads: (await env.reloads()) - reloadsBefore,
      healthzMs: { ...summary(healthzMs.samples), failed: healthzMs.failed },
    },
  };
}

/** GETs /healthz every 20 ms on one kept-alive connection until stopped; the response times. */
function probeHealthz(env: TestEnv): { stop(): Promise<{ samples: number[]; failed: number }> } {
  const agent: Agent = keepAlive();
  const samples: number[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const res = await httpGet(`http://127.0.0.1:${env.apiPort}/healthz`, { agent, timeoutMs: 10000 }).catch(() => null);
      const took = performance.now() - started;
      if (res?.status === 200) samples.push(took);
      else failed++;
      await sleep(Math.max(0, HEALTHZ_EVERY_MS - took));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      agent.destroy();
      return { samples, failed };
    },
  };
}

async function scrape(env: TestEnv): Promise<Scrape> {
  const res = await env.apiText('/metrics');
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(res.body);
}

/** prom-client's event-loop gauges: monitorEventLoopDelay, reset at each scrape, so they cover the time since the previous one. */
function lagOf(m: Scrape): { p50: number; p99: number; max: number } {
  const ms = (name: string): number => round((m.value(name) ?? Number.NaN) * 1000);
  return { p50: ms('nodejs_eventloop_lag_p50_seconds'), p99: ms('nodejs_eventloop_lag_p99_seconds'), max: ms('nodejs_eventloop_lag_max_seconds') };
}

function seconds(m: Scrape, name: string): number {
  return round((m.value(name) ?? Number.NaN) * 1000);
}

function delta(before: Scrape, after: Scrape, name: string, labels: Record<string, string>): number {
  return (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
}

/** `haproxy -c` on the applied config, run here: HAProxy's own check time, without the daemon around it. */
async function haproxyCheck(config: string): Promise<number> {
  const started = performance.now();
  await promisify(execFile)(haproxyBinary(), ['-c', '-q', '-f', config], { maxBuffer: 16 * 2 ** 20 });
  return round(performance.now() - started);
}

/** What HAProxy made of the descriptor limit: `show info` Ulimit-n, Maxsock, Maxconn. */
async function haproxyLimits(env: TestEnv): Promise<Record<string, number>> {
  const info = await new RuntimeClient({ socket: env.paths.admin }).command('show info');
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return { ulimitN: field('Ulimit-n'), maxsock: field('Maxsock'), maxconn: field('Maxconn') };
}

/** Stops the daemon gracefully (the profile is written at exit) and summarises the profile. */
async function profileOf(daemon: Managed, dir: string): Promise<Record<string, unknown>> {
  await stopChild(daemon.child, 30000);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return { error: `no profile written in ${dir}` };
  return topSelfTime(join(dir, file), 20);
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${raw}`);
  return n;
}
