/**
 * What one change costs the reconciler itself, at 10, 1,000 and 10,000
 * vhosts × 2 colours × 10 servers: the whole sync (desired state, slots,
 * plan, render, hash) with HAProxy's side answered at once, so only the
 * daemon's own work is timed. A cost that does not grow with the number of
 * vhosts is the goal: compare the sizes' ratios within one run.
 */
import { readTemplates, BUNDLED_TEMPLATES } from '../../../src/sources/templates.ts';
import type { EtcdSnapshot, ServicesSnapshot, TemplatesSnapshot } from '../../../src/core/model.ts';
import { createLogger } from '../../../src/log.ts';
import { Reconciler } from '../../../src/reconcile/reconciler.ts';
import type { Source, SourceStatus } from '../../../src/sources/source.ts';
import { syntheticInputs } from '../fixtures.ts';
import type { Scenario } from '../run.ts';
import { round, summary } from '../stats.ts';

const SIZES = (process.env['SYNC_COST_SIZES'] ?? '10,1000,10000').split(',').map(Number);
const CHANGES = 30;

export const scenario: Scenario = {
  name: 'sync-cost',
  description: `one sync of the reconciler with instant HAProxy answers: the first (everything is new), then ${CHANGES} endpoint changes and ${CHANGES} flips one at a time, at N vhosts × 2 colours × 10 servers`,
  async run() {
    const templates = await readTemplates([BUNDLED_TEMPLATES]);
    const out: Record<string, unknown> = {};
    for (const n of SIZES) out[`vhosts_${n}`] = await measure(n, templates);
    return out;
  },
};

async function measure(n: number, templates: TemplatesSnapshot): Promise<Record<string, unknown>> {
  const inputs = syntheticInputs(n, 10);
  let etcd: EtcdSnapshot = inputs.etcd;
  let services: ServicesSnapshot = inputs.services;
  const reconciler = new Reconciler({
    etcd: fixed('etcd', () => etcd),
    services: [fixed('kubernetes', () => services)],
    templates: fixed('templates', () => templates),
    settings: { node: 'bench', adminSocket: '/run/admin.sock', mapsDir: '/maps', bind: [['127.0.0.1:80']], spareSlots: 4 },
    reload: async () => ({ ok: true, check: { ok: true, messages: [], durationMs: 0 }, reloadMs: 0 }),
    runtime: async (ops) => ({ ok: true, commands: ops.length }),
    log: createLogger('warn', 'stderr'),
  });
  const timed = async (): Promise<number> => {
    const t0 = performance.now();
    await reconciler.sync();
    const ms = performance.now() - t0;
    const report = reconciler.lastReport();
    if (!report?.ok) throw new Error(`sync failed: ${report?.message ?? 'no report'}`);
    return ms;
  };
  const firstMs = await timed();
  const endpoint: number[] = [];
  const flip: number[] = [];
  const ref = 'ns/app0-blue';
  for (let i = 0; i < CHANGES; i++) {
    const list = [...(services.services[ref]?.ports['http'] ?? [])];
    list[i % list.length] = { address: `10.99.${i % 250}.${(i % 200) + 1}`, port: 9000 + i };
    services = { services: { ...services.services, [ref]: { ports: { http: list } } }, problems: [] };
    endpoint.push(await timed());
    const host = `app${i % n}.example.com`;
    const revision = etcd.revision + 1;
    etcd = { ...etcd, revision, entries: { ...etcd.entries, [`vhosts/${host}/active`]: { value: i % 2 === 0 ? 'green' : 'blue', modRevision: revision } } };
    flip.push(await timed());
  }
  return { firstSyncMs: round(firstMs), endpointChangeSyncMs: summary(endpoint), flipSyncMs: summary(flip), heapUsedMiB: round(process.memoryUsage().heapUsed / 2 ** 20) };
}

function fixed<S>(name: 'etcd' | 'kubernetes' | 'templates', value: () => S): Source<S> {
  const status: SourceStatus = { name, up: true, synced: true, restarts: 0, lastEventAt: null, lastError: null };
  return { name, start: () => {}, snapshot: value, status: () => status, stop: async () => {} };
}
