import t from 'tap';
import { appliedState } from '../helpers/applied.ts';
import type { AppliedState } from '../../src/core/plan.ts';
import { countServers, hashValue, Metrics } from '../../src/http/metrics.ts';
import { parseMetrics } from '../helpers/prometheus.ts';

t.test('config_hash: the first 13 hex digits, exact in a float64', async (t) => {
  t.equal(hashValue('ffffffffffffffff'), 2 ** 52 - 1, 'the largest value stays below 2^53');
  t.equal(hashValue('0123456789abcdef'), 0x0123456789abc);
  t.not(hashValue('0123456789abd000'), hashValue('0123456789abc000'), 'configs differing in the 13th digit differ');
});

t.test('servers by state: filled slots of the live colour, of other colours, and free slots', async (t) => {
  const endpoint = { address: '10.0.0.1', port: 80 };
  const backend = (colour: string) => ({ name: `be_a_${colour}`, host: 'a', colour, service: 's/x', port: 'http', balance: 'roundrobin' as const, healthPath: null, minReady: 1, servers: [] });
  const applied: AppliedState = appliedState(
    { revision: 1, problems: [], vhosts: [{ host: 'a', active: 'green', revision: 1, backends: [backend('blue'), backend('green')] }] },
    {
      be_a_blue: [{ name: 'srv1', endpoint }, { name: 'srv2', endpoint: null }],
      be_a_green: [{ name: 'srv1', endpoint }, { name: 'srv2', endpoint }, { name: 'srv3', endpoint: null }],
    },
    { config: '', maps: {} },
  );
  t.same(countServers(applied), { active: 2, standby: 1, spare: 2 });
});

t.test('flips_total: one count per flip, by its result', async (t) => {
  const metrics = new Metrics({ version: 'test', sources: () => [] });
  metrics.flip('ok');
  metrics.flip('ok');
  metrics.flip('conflict');
  const s = parseMetrics(await metrics.registry.metrics());
  t.equal(s.value('haproxy_sync_flips_total', { result: 'ok' }), 2);
  t.equal(s.value('haproxy_sync_flips_total', { result: 'conflict' }), 1);
  t.equal(s.value('haproxy_sync_flips_total', { result: 'timeout' }), undefined, 'results that never happened are absent');
});

t.test('sync latency is observed for a successful sync that applied a seen change, and only then', async (t) => {
  const metrics = new Metrics({ version: 'test', sources: () => [] });
  const observer = metrics.reconcileObserver();
  const report = { at: 10_000, ok: true, mode: 'reload' as const, reason: 'config changed', durationMs: 5, revision: 3, configHash: '00000000000000ff', changeSeenAt: 9_750 };
  observer.onSynced?.(report, null);
  observer.onSynced?.({ ...report, changeSeenAt: null }, null);
  observer.onSynced?.({ ...report, ok: false, code: 'HAPROXY_RELOAD_FAILED' as const, message: 'x' }, null);
  const s = parseMetrics(await metrics.registry.metrics());
  t.equal(s.value('haproxy_sync_sync_latency_seconds_count'), 1, 'one observation');
  t.equal(s.value('haproxy_sync_sync_latency_seconds_sum'), 0.25, '250 ms from the change being seen to HAProxy serving it');
  t.equal(s.value('haproxy_sync_config_last_reload_successful'), 0, 'the last sync failed');
  t.equal(s.value('haproxy_sync_applies_total', { mode: 'reload' }), 2, 'only successful syncs count as applies');
});

t.test('source metrics are read from the sources at scrape time', async (t) => {
  let restarts = 0;
  const status = () => ({ name: 'etcd' as const, up: restarts === 0, synced: true, restarts, lastEventAt: 1_700_000_000_000, lastError: null });
  const metrics = new Metrics({ version: 'test', sources: () => [status()] });
  let s = parseMetrics(await metrics.registry.metrics());
  t.equal(s.value('haproxy_sync_source_up', { source: 'etcd' }), 1);
  t.equal(s.value('haproxy_sync_watch_restarts_total', { source: 'etcd' }), 0);
  t.equal(s.value('haproxy_sync_source_last_event_timestamp_seconds', { source: 'etcd' }), 1_700_000_000);
  restarts = 3;
  s = parseMetrics(await metrics.registry.metrics());
  t.equal(s.value('haproxy_sync_source_up', { source: 'etcd' }), 0);
  t.equal(s.value('haproxy_sync_watch_restarts_total', { source: 'etcd' }), 3);
  s = parseMetrics(await metrics.registry.metrics());
  t.equal(s.value('haproxy_sync_watch_restarts_total', { source: 'etcd' }), 3, 'a second scrape does not count the same restarts again');
});
