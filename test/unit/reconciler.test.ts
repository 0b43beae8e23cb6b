// The reconciler's decisions with fake edges: take over, runtime, fallback, retry classification, last good, drift, unknown.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { LiveState } from '../../src/core/drift.ts';
import type { EtcdSnapshot, LastGoodRecords, Problem, Rendered, ServicesSnapshot, TemplatesSnapshot } from '../../src/core/model.ts';
import type { RuntimeOp } from '../../src/core/plan.ts';
import type { KeptSlots } from '../../src/core/server-state.ts';
import type { ErrorCode } from '../../src/errors.ts';
import type { ReloadOutcome } from '../../src/haproxy/apply.ts';
import type { RuntimeOutcome } from '../../src/haproxy/runtime-apply.ts';
import { Reconciler } from '../../src/reconcile/reconciler.ts';
import type { Source, SourceStatus } from '../../src/sources/source.ts';
import type { LastGoodStore } from '../../src/state/last-good-store.ts';
import { captureLogs } from '../helpers/logs.ts';

const HOST = 'shop.example.com';
const SPEC = JSON.stringify({ backends: { blue: { service: 'shop/blue', port: 'http' }, green: { service: 'shop/green', port: 'http' } }, default: 'blue' });
const TEMPLATES_DIR = new URL('../../templates/', import.meta.url).pathname;
const TEMPLATES: TemplatesSnapshot = {
  dir: TEMPLATES_DIR,
  files: Object.fromEntries(readdirSync(TEMPLATES_DIR).filter((n) => n.endsWith('.eta')).map((n) => [n, readFileSync(join(TEMPLATES_DIR, n), 'utf8')])),
};

function source<S>(name: 'etcd' | 'static' | 'templates', value: () => S): Source<S> {
  const status: SourceStatus = { name, up: true, synced: true, restarts: 0, lastEventAt: null, lastError: null };
  return { name, start: () => {}, snapshot: value, status: () => status, stop: async () => {} };
}

const ok: ReloadOutcome = { ok: true, check: { ok: true, messages: [], durationMs: 1 }, reloadMs: 1 };
const failed = (code: ErrorCode): ReloadOutcome => ({ ok: false, code, message: code, details: [], check: null });

/** A reconciler over fake edges, with knobs for what etcd holds and how HAProxy answers. */
function world(opts: { stored?: LastGoodRecords; runsAlready?: boolean } = {}) {
  const keys: Record<string, string> = { spec: SPEC };
  let revision = 10;
  const endpoints: Record<string, string[]> = { 'shop/blue': ['10.0.0.1'], 'shop/green': ['10.0.0.2'] };
  const etcd = (): EtcdSnapshot => ({
    prefix: '/p/',
    revision,
    entries: Object.fromEntries(Object.entries(keys).map(([k, v]) => [`vhosts/${HOST}/${k}`, { value: v, modRevision: revision }])),
  });
  const services = (): ServicesSnapshot => ({
    services: Object.fromEntries(Object.entries(endpoints).map(([ref, addrs]) => [ref, { ports: { http: addrs.map((address) => ({ address, port: 80 })) } }])),
    problems: [],
  });
  const calls: string[] = [];
  const reloads: Array<{ rendered: Rendered; kept: KeptSlots }> = [];
  const runtimeOps: RuntimeOp[][] = [];
  let nextReload: ReloadOutcome = ok;
  let nextRuntime: RuntimeOutcome = { ok: true, commands: 1 };
  let live: (LiveState & { masterPid: number }) | Error = new Error('not set');
  const saved: LastGoodRecords[] = [];
  let now = 1000;
  const store: LastGoodStore = {
    load: async () => ({ records: opts.stored ?? {}, problems: [] as Problem[] }),
    save: async (records) => void saved.push(records),
  };
  const { log, logs } = captureLogs();
  const reconciler = new Reconciler({
    etcd: source('etcd', etcd),
    services: [source('static', services)],
    templates: source('templates', () => TEMPLATES),
    settings: { node: 'n', adminSocket: '/run/admin.sock', mapsDir: '/maps', bind: [['127.0.0.1:80']], spareSlots: 1 },
    reload: async (rendered, kept) => {
      calls.push('reload');
      reloads.push({ rendered, kept });
      return nextReload;
    },
    runsAlready: async () => {
      calls.push('runsAlready');
      return opts.runsAlready ?? false;
    },
    runtime: async (ops) => {
      calls.push('runtime');
      runtimeOps.push([...ops]);
      return nextRuntime;
    },
    lastGood: store,
    readLive: async () => {
      calls.push('readLive');
      if (live instanceof Error) throw live;
      return live;
    },
    now: () => now,
    log,
  });
  return {
    reconciler, calls, reloads, runtimeOps, saved, logs,
    put(key: 'spec' | 'active', value: string) {
      keys[key] = value;
      revision++;
    },
    endpoints,
    setReload: (o: ReloadOutcome) => void (nextReload = o),
    setRuntime: (o: RuntimeOutcome) => void (nextRuntime = o),
    setLive: (l: (LiveState & { masterPid: number }) | Error) => void (live = l),
    tick: (ms: number) => void (now += ms),
  };
}

/** What HAProxy would report when it runs exactly what was applied. */
type MutableLive = { masterPid: number; maps: Record<string, ReadonlyMap<string, string>>; servers: LiveState['servers'] };

function liveOf(w: ReturnType<typeof world>, masterPid = 1): MutableLive {
  const applied = w.reconciler.applied();
  if (!applied) throw new Error('nothing applied');
  const maps: Record<string, Map<string, string>> = {};
  for (const [name, text] of Object.entries(applied.rendered.maps)) maps[name] = new Map(text.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
  const servers: Record<string, Array<{ name: string; addr: string; port: number; adminState: 'ready' | 'maint' }>> = {};
  for (const [backend, slots] of Object.entries(applied.layout)) {
    servers[backend] = slots.map((s) => ({ name: s.name, addr: s.endpoint?.address ?? '0.0.0.0', port: s.endpoint?.port ?? 0, adminState: s.endpoint ? 'ready' : 'maint' }));
  }
  return { masterPid, maps, servers };
}

t.test('first sync: a restarted daemon takes over files HAProxy already runs, without a reload', async (t) => {
  const w = world({ runsAlready: true });
  t.strictSame(await w.reconciler.sync(), {});
  t.strictSame(w.calls, ['runsAlready']);
  t.match(w.reconciler.lastReport(), { ok: true, mode: 'noop', reason: 'HAProxy already runs these files' });
});

t.test('after HAProxy refused a reload, the retry reloads even if the workers look newer than the files', async (t) => {
  const w = world({ runsAlready: true });
  await w.reconciler.sync();
  t.strictSame(w.calls, ['runsAlready'], 'taken over at start');
  // More pods than the backend has slots: a reload, which HAProxy refuses.
  w.endpoints['shop/blue'] = ['10.0.0.1', '10.0.0.3', '10.0.0.4'];
  w.put('spec', SPEC);
  w.setReload(failed('HAPROXY_RELOAD_FAILED'));
  await w.reconciler.sync();
  t.equal(w.calls.at(-1), 'reload');
  // From 3.1 the worker that failed to load can still be listed, started after the files: not a reason to take them over.
  w.setReload(ok);
  await w.reconciler.sync();
  t.strictSame(w.calls.slice(-1), ['reload'], 'reloaded, not taken over');
  t.match(w.reconciler.lastReport(), { ok: true, mode: 'reload' });
});

t.test('first sync reloads; a flip then goes by the Runtime API', async (t) => {
  const w = world();
  await w.reconciler.sync();
  t.strictSame(w.calls, ['runsAlready', 'reload']);
  w.put('active', 'green');
  await w.reconciler.sync();
  t.equal(w.calls.at(-1), 'runtime');
  t.match(w.runtimeOps.at(-1), [{ kind: 'set-map', key: HOST, value: `be_${HOST}_green` }]);
  t.match(w.reconciler.lastReport(), { ok: true, mode: 'runtime' });
});

t.test('a refused runtime apply falls back to a reload; what HAProxy runs is unknown until it succeeds', async (t) => {
  const w = world();
  await w.reconciler.sync();
  w.setRuntime({ ok: false, code: 'HAPROXY_COMMAND_FAILED', message: 'refused' });
  w.setReload(failed('HAPROXY_RELOAD_FAILED'));
  w.tick(500);
  w.put('active', 'green');
  const outcome = await w.reconciler.sync();
  t.strictSame(w.calls.slice(-2), ['runtime', 'reload'], 'the fallback reload, no take-over look');
  t.match(w.reconciler.lastReport(), { ok: false, mode: 'reload', code: 'HAPROXY_RELOAD_FAILED', fallback: { code: 'HAPROXY_COMMAND_FAILED' } });
  t.ok(outcome.retryInMs && outcome.retryInMs > 0, 'retried with backoff');
  t.equal(w.reconciler.applied(), null);
  t.equal(w.reconciler.unknownSince(), 1500, 'unknown since the failed runtime apply');
  t.equal(w.reconciler.lastKnown()?.desired.vhosts[0]?.active, 'blue', 'the last known state is kept');
  w.setReload(ok);
  await w.reconciler.sync();
  t.equal(w.reconciler.unknownSince(), null, 'known again');
  t.equal(w.reconciler.applied()?.desired.vhosts[0]?.active, 'green');
});

t.test('retry classification: bad config or template waits for a change; a check that could not run is retried', async (t) => {
  for (const [code, retried] of [['HAPROXY_CHECK_FAILED', false], ['HAPROXY_CHECK_UNAVAILABLE', true], ['HAPROXY_FILES_UNWRITABLE', true], ['HAPROXY_UNREACHABLE', true]] as const) {
    const w = world();
    w.setReload(failed(code));
    const outcome = await w.reconciler.sync();
    t.equal(outcome.retryInMs !== undefined, retried, `${code}: ${retried ? 'retried with backoff' : 'not retried'}`);
    t.equal(w.reconciler.unknownSince() === null, code !== 'HAPROXY_UNREACHABLE', `${code}: ${code === 'HAPROXY_UNREACHABLE' ? 'unknown' : 'nothing was ever known'}`);
  }
});

t.test('last good: a bad active value keeps serving the last good colour, remembered after the apply', async (t) => {
  const w = world();
  w.put('active', 'green');
  await w.reconciler.sync();
  t.match(w.saved.at(-1), { [HOST]: { active: 'green', since: null } }, 'the good version is saved');
  w.tick(1000);
  w.put('active', 'gren');
  await w.reconciler.sync();
  t.equal(w.reconciler.applied()?.desired.vhosts[0]?.active, 'green');
  t.match(w.reconciler.applied()?.desired.vhosts[0]?.lastGood, { since: 2000, problem: { code: 'ACTIVE_INVALID' } });
  t.match(w.saved.at(-1), { [HOST]: { active: 'green', since: 2000 } }, 'the start of the fall back is saved');
  const saves = w.saved.length;
  await w.reconciler.sync();
  t.equal(w.saved.length, saves, 'nothing new to save, nothing written');
});

t.test('last good loaded at start: a restarted daemon serves it while the bad value is still in etcd', async (t) => {
  const w = world({ stored: { [HOST]: { spec: SPEC, active: 'green', revision: 3, since: 900 } } });
  w.put('active', 'gren');
  await w.reconciler.sync();
  t.equal(w.reconciler.applied()?.desired.vhosts[0]?.active, 'green');
  t.equal(w.reconciler.applied()?.desired.vhosts[0]?.lastGood?.since, 900);
});

t.test('a state file that cannot be written is a problem, and serving goes on', async (t) => {
  const w = world();
  const store = (w.reconciler as unknown as { deps: { lastGood: LastGoodStore } }).deps.lastGood;
  store.save = async () => {
    throw Object.assign(new Error('cannot write /var/lib/haproxy-sync/last-good.json: EROFS'), { code: 'STATE_UNWRITABLE' });
  };
  await w.reconciler.sync();
  t.match(w.reconciler.lastReport(), { ok: true });
  t.match(w.reconciler.problems(), [{ code: 'STATE_UNWRITABLE', message: /EROFS/ }]);
});

t.test('resync: no drift does nothing; drift is repaired by runtime ops or, when needed, by a reload', async (t) => {
  const w = world();
  await w.reconciler.sync();
  w.setLive(liveOf(w));
  w.reconciler.requestResync();
  await w.reconciler.sync();
  t.strictSame(w.calls.slice(-1), ['readLive'], 'read, nothing to repair');

  const drifted = liveOf(w);
  drifted.maps['hosts.map'] = new Map([[HOST, `be_${HOST}_green`]]);
  w.setLive(drifted);
  w.reconciler.requestResync();
  await w.reconciler.sync();
  t.strictSame(w.calls.slice(-2), ['readLive', 'runtime']);
  t.match(w.runtimeOps.at(-1), [{ kind: 'set-map', key: HOST, value: `be_${HOST}_blue` }]);
  t.match(w.logs.find((l) => l['code'] === 'HAPROXY_DRIFT'), { kind: 'map', where: `hosts.map ${HOST}`, expected: `be_${HOST}_blue`, found: `be_${HOST}_green` });

  const missing = liveOf(w);
  missing.maps['hosts.map'] = new Map();
  w.setLive(missing);
  w.reconciler.requestResync();
  await w.reconciler.sync();
  t.strictSame(w.calls.slice(-2), ['readLive', 'reload'], 'a missing key takes a reload');
  t.match(w.reconciler.lastReport(), { ok: true, mode: 'reload', reason: /^drift: / });
});

t.test('resync: a new master PID is a restart; an unreadable HAProxy makes the state unknown, then taken over', async (t) => {
  const w = world({ runsAlready: true });
  await w.reconciler.sync();
  w.setLive(liveOf(w, 1));
  w.reconciler.requestResync();
  await w.reconciler.sync();
  w.setLive(liveOf(w, 2));
  w.reconciler.requestResync();
  await w.reconciler.sync();
  t.ok(w.logs.some((l) => l['code'] === 'HAPROXY_DRIFT' && l['kind'] === 'restart'), 'the restart is logged');
  t.match(w.reconciler.lastReport(), { ok: true, reason: 'HAProxy restarted; it runs the applied files' });

  w.setLive(new Error('connect ENOENT'));
  w.reconciler.requestResync();
  const outcome = await w.reconciler.sync();
  t.match(w.reconciler.lastReport(), { ok: false, code: 'HAPROXY_UNREACHABLE' });
  t.ok(outcome.retryInMs !== undefined, 'retried');
  t.not(w.reconciler.unknownSince(), null);
  await w.reconciler.sync();
  t.equal(w.calls.at(-1), 'runsAlready', 'once it answers, the running files are taken over');
  t.equal(w.reconciler.unknownSince(), null);
});

t.test('a reload keeps the saved state only of slots that keep their endpoint', async (t) => {
  const w = world();
  await w.reconciler.sync();
  w.endpoints['shop/blue'] = ['10.0.0.1', '10.0.0.5', '10.0.0.6'];
  w.put('spec', SPEC.replace('"default":"blue"', '"default":"blue","balance":"leastconn"'));
  await w.reconciler.sync();
  const kept = w.reloads.at(-1)?.kept;
  t.strictSame([...(kept?.get(`be_${HOST}_blue`)?.keys() ?? [])], ['srv1'], 'blue srv1 keeps 10.0.0.1; the new servers start fresh');
});
