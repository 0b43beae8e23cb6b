// The incremental path (DesiredCache and its slices made ahead, kept slot placements and views, the
// renderer's kept parts, the planner's shortcuts by identity) against a
// computation from scratch, on random histories of etcd and endpoint changes:
// after every step both must give the same desired state, the same slots, the
// same config text and the same plan.
//
// Each run is seeded; a failing run names its seed. To replay one:
//   INCREMENTAL_SEED=<seed> npx tap test/unit/incremental.test.ts
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { DesiredCache } from '../../src/core/desired-cache.ts';
import { buildDesired } from '../../src/core/desired.ts';
import type { DesiredState, Endpoint, EtcdEntry, LastGoodRecords, RenderSettings, ServiceEndpoints, ServicesSnapshot, TemplatesSnapshot } from '../../src/core/model.ts';
import { plan, type AppliedState } from '../../src/core/plan.ts';
import { renderView, templateView } from '../../src/core/render.ts';
import { layoutSlots, type Layout } from '../../src/core/slots.ts';
import { Gen } from '../helpers/random.ts';

const STEPS = 1200;
const HOSTS = ['a.example.com', 'b.example.com', 'c.example.com', 'd.example.com', '*.example.com', '*.shop.example.com', 'e.example.com', 'f.example.com'];
const COLOURS = ['blue', 'green', 'canary'];
const SERVICES = ['web/blue', 'web/green', 'api/blue', 'api/green', 'shop/canary', 'gone/none'];
const ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.1.1', 'fd00::1', 'FD00::2'];
const SETTINGS: RenderSettings = { node: 'n', adminSocket: '/run/admin.sock', mapsDir: '/maps', bind: [['127.0.0.1:80']], spareSlots: 1 };
const TEMPLATES_DIR = new URL('../../templates/', import.meta.url).pathname;

/** A fresh snapshot object each time: a renderer compiled from it has kept nothing. */
function templates(): TemplatesSnapshot {
  return { dir: TEMPLATES_DIR, files: Object.fromEntries(readdirSync(TEMPLATES_DIR).filter((n) => n.endsWith('.eta')).map((n) => [n, readFileSync(join(TEMPLATES_DIR, n), 'utf8')])) };
}

/** etcd as the source keeps it: a Map in insertion order, entries kept as objects until they change. */
class Etcd {
  readonly entries = new Map<string, EtcdEntry>();
  revision = 1;
  put(key: string, value: string): void {
    this.revision++;
    this.entries.set(key, { value, modRevision: this.revision });
  }
  delete(key: string): void {
    this.revision++;
    this.entries.delete(key);
  }
  snapshot() {
    return { prefix: '/p/', revision: this.revision, entries: Object.fromEntries(this.entries) };
  }
}

/** An endpoint source: services kept as objects until they change, as the Kubernetes source does. */
class Endpoints {
  services: Record<string, ServiceEndpoints> = {};
  set(ref: string, endpoints: Endpoint[] | null): void {
    const next = { ...this.services };
    if (endpoints === null) delete next[ref];
    else next[ref] = { ports: { http: endpoints, ...(endpoints.length % 2 ? { admin: endpoints.slice(0, 1) } : {}) } };
    this.services = next;
  }
  snapshot(): ServicesSnapshot {
    return { services: this.services, problems: [] };
  }
}

function spec(g: Gen): string {
  if (g.chance(0.05)) return g.pick(['{"backends":', '{"backends":{}}', '[]', '{"backends":{"blue":{"service":"web/blue","port":"http"}},"default":"red"}']);
  const colours = COLOURS.filter((_, i) => i === 0 || g.chance(0.6));
  const backends = Object.fromEntries(colours.map((c) => [c, { service: g.pick(SERVICES), port: g.chance(0.9) ? 'http' : 'admin' }]));
  return JSON.stringify({
    backends,
    default: g.pick(colours),
    ...(g.chance(0.3) ? { balance: g.pick(['leastconn', 'roundrobin', 'source']) } : {}),
    ...(g.chance(0.3) ? { health: { path: g.pick(['/healthz', '/ready']), minReady: g.int(3) } } : {}),
  });
}

function endpoints(g: Gen): Endpoint[] {
  return g.some(ADDRESSES, 5).map((address) => ({ address, port: g.pick([80, 8080]) }));
}

/** One random change to etcd or the endpoints. */
function step(g: Gen, etcd: Etcd, sources: Endpoints[]): void {
  const host = g.pick(HOSTS);
  const key = (leaf: string): string => `vhosts/${g.chance(0.03) ? host.toUpperCase() : host}/${leaf}`;
  const roll = g.int(10);
  if (roll < 2) etcd.put(key('spec'), spec(g));
  else if (roll < 4) etcd.put(key('active'), g.chance(0.9) ? g.pick(COLOURS) : 'purple');
  else if (roll < 5) etcd.delete(key(g.chance(0.5) ? 'spec' : 'active'));
  else g.pick(sources).set(g.pick(SERVICES), g.chance(0.05) ? null : endpoints(g));
}

function fresh<T>(value: T): T {
  return structuredClone(value);
}

function check(t: Test, seed: number): void {
  const g = new Gen(seed);
  const etcd = new Etcd();
  const sources = [new Endpoints(), new Endpoints()];
  const cache = new DesiredCache();
  const kept = templates();
  let lastGood: LastGoodRecords = {};
  let applied: AppliedState | null = null;
  let layout: Layout | null = null;
  for (let i = 0; i < STEPS; i++) {
    step(g, etcd, sources);
    const snapshots = sources.map((s) => s.snapshot());
    const now = 1000 + i;
    // Sometimes made ahead in small slices, as the reconciler does for a large change.
    if (g.chance(0.3)) while (!cache.prepare(etcd.snapshot(), snapshots, lastGood, now, undefined, 1 + g.int(3)));
    const incremental = cache.build(etcd.snapshot(), snapshots, lastGood, now);
    const scratch = buildDesired(fresh(etcd.snapshot()), fresh(snapshots), fresh(lastGood), now);
    if (JSON.stringify(incremental) !== JSON.stringify(scratch)) {
      if (process.env['INCREMENTAL_DEBUG']) console.error(JSON.stringify(incremental, null, 1), '\n=====\n', JSON.stringify(scratch, null, 1));
      t.same(incremental, scratch, `seed ${seed}, step ${i}: the desired state`);
      return;
    }
    const backends = (d: DesiredState) => d.vhosts.flatMap((v) => v.backends);
    const nextLayout = layoutSlots(backends(incremental), SETTINGS.spareSlots, layout);
    const scratchLayout = layoutSlots(backends(scratch), SETTINGS.spareSlots, fresh(layout));
    if (JSON.stringify(nextLayout) !== JSON.stringify(scratchLayout)) {
      t.same(nextLayout, scratchLayout, `seed ${seed}, step ${i}: the slots`);
      return;
    }
    const view = templateView(incremental, nextLayout, SETTINGS);
    const target = { desired: incremental, layout: nextLayout, view, templates: kept };
    const planned = plan(applied, target);
    const scratchPlan = plan(applied && fresh({ ...applied, rendered: { config: applied.rendered.config, maps: applied.rendered.maps } }), fresh({ ...target, templates: templates() }));
    if (JSON.stringify(planned) !== JSON.stringify(scratchPlan)) {
      t.same(planned, scratchPlan, `seed ${seed}, step ${i}: the plan`);
      return;
    }
    const rendered = renderView(view, incremental, kept);
    const scratchRendered = renderView(templateView(scratch, scratchLayout, SETTINGS), scratch, templates());
    if (rendered.config !== scratchRendered.config || rendered.configDigest !== scratchRendered.configDigest || JSON.stringify(rendered.maps) !== JSON.stringify(scratchRendered.maps)) {
      t.equal(rendered.config, scratchRendered.config, `seed ${seed}, step ${i}: the config`);
      t.equal(rendered.configDigest, scratchRendered.configDigest, `seed ${seed}, step ${i}: the config's digest`);
      t.same(rendered.maps, scratchRendered.maps, `seed ${seed}, step ${i}: the maps`);
      return;
    }
    // As the reconciler does after a confirmed apply.
    applied = { ...target, rendered };
    layout = nextLayout;
    lastGood = incremental.lastGood ?? {};
  }
  t.pass(`seed ${seed}: ${STEPS} steps, the incremental path always equal to a computation from scratch`);
}

const replay = process.env['INCREMENTAL_SEED'];
const seeds = replay ? [Number(replay)] : [1, 2, Date.now() % 1_000_000];
for (const seed of seeds) t.test(`random history, seed ${seed}`, async (t) => check(t, seed));
