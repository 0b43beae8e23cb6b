import t from 'tap';
import { startEtcd, waitUntil } from '../../src/demo/processes.ts';
import { DURATION_BUCKETS } from '../../src/http/metrics.ts';
import { VERSION } from '../../src/version.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { parseMetrics, type Scrape } from '../helpers/prometheus.ts';
import { backendTemplate } from '../helpers/templates.ts';

const HOST = 'shop.example.com';
const P = 'haproxy_sync_';

const TYPES: Readonly<Record<string, string>> = {
  config_last_reload_successful: 'gauge',
  config_last_reload_success_timestamp_seconds: 'gauge',
  config_hash: 'gauge',
  reloads_total: 'counter',
  config_checks_total: 'counter',
  reload_duration_seconds: 'histogram',
  config_check_duration_seconds: 'histogram',
  render_duration_seconds: 'histogram',
  applies_total: 'counter',
  runtime_api_commands_total: 'counter',
  sync_latency_seconds: 'histogram',
  source_up: 'gauge',
  source_last_event_timestamp_seconds: 'gauge',
  watch_restarts_total: 'counter',
  vhosts: 'gauge',
  servers: 'gauge',
  flips_total: 'counter',
  build_info: 'gauge',
};

async function scrape(env: TestEnv): Promise<Scrape> {
  const res = await env.apiText('/metrics');
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  if (!String(res.headers['content-type']).startsWith('text/plain; version=0.0.4')) throw new Error(`/metrics content type ${res.headers['content-type']}`);
  return parseMetrics(res.body);
}

/** Polls /metrics until `ok` holds. */
async function scrapeUntil(env: TestEnv, what: string, ok: (s: Scrape) => boolean): Promise<Scrape> {
  let last: Scrape | null = null;
  await waitUntil(what, async () => ok((last = await scrape(env))), 20000);
  if (!last) throw new Error('no scrape');
  return last;
}

/** A counter's value, 0 while it has never been incremented (prom-client shows no sample yet). */
const count = (s: Scrape, name: string, labels: Record<string, string>): number => s.value(P + name, labels) ?? 0;
const v = (s: Scrape, name: string, labels: Record<string, string> = {}): number => {
  const value = s.value(P + name, labels);
  if (value === undefined) throw new Error(`no sample ${P}${name} ${JSON.stringify(labels)}`);
  return value;
};

t.test('/metrics while real reloads, flips and a rejected config happen: names, types, and values that move', async (t) => {
  const template = backendTemplate(t);
  const env = await startEnv(t, { config: { templates: template.dir } });
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.putActive(HOST, 'blue');
  await env.until(HOST, { body: 'blue' });
  const first = await scrapeUntil(env, 'the vhost in the metrics', (s) => s.value(`${P}vhosts`) === 1);

  await t.test('every DESIGN metric is there with its type, plus the default process and Node.js ones', async (t) => {
    for (const [name, type] of Object.entries(TYPES)) t.equal(first.types.get(P + name), type, `${P}${name} is a ${type}`);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      t.ok(first.types.has(name), `default metric ${name}`);
    }
    const les = first.samples.filter((s) => s.name === `${P}reload_duration_seconds_bucket`).map((s) => s.labels['le']);
    t.same(les, [...DURATION_BUCKETS.map(String), '+Inf'], 'duration buckets run from 1 ms to 10 s');
    t.equal(v(first, 'build_info', { version: VERSION }), 1, 'build_info carries the version');
  });

  await t.test('the first apply is counted', async (t) => {
    t.equal(v(first, 'config_last_reload_successful'), 1);
    t.ok(v(first, 'reloads_total', { result: 'success' }) >= 1, 'a successful reload');
    t.ok(v(first, 'config_checks_total', { result: 'success' }) >= 1, 'a passed haproxy -c');
    t.equal(v(first, 'reloads_total', { result: 'failure' }), 0, 'no failed reload');
    t.ok(v(first, 'reload_duration_seconds_count') >= 1 && v(first, 'reload_duration_seconds_sum') > 0, 'reload durations observed');
    t.ok(v(first, 'render_duration_seconds_count') >= 1, 'render durations observed');
    t.ok(v(first, 'sync_latency_seconds_count') >= 1, 'sync latency observed');
    const hash = daemon.reconciler.lastReport()?.configHash ?? '';
    t.equal(v(first, 'config_hash'), Number.parseInt(hash.slice(0, 13), 16), 'config_hash is the reported hash, first 13 hex digits');
    t.ok(v(first, 'config_last_reload_success_timestamp_seconds') * 1000 <= Date.now(), 'the success time is a Unix time in seconds');
    for (const source of ['etcd', 'static', 'templates']) t.equal(v(first, 'source_up', { source }), 1, `source ${source} up`);
    t.same(
      { active: v(first, 'servers', { state: 'active' }), standby: v(first, 'servers', { state: 'standby' }), spare: v(first, 'servers', { state: 'spare' }) },
      { active: 2, standby: 2, spare: 8 },
      'two blue pods live, two green on standby, four free slots per backend',
    );
  });

  await t.test('a flip moves runtime applies and commands, latency, hash, servers and the etcd event time, and no reload', async (t) => {
    const before = await scrape(env);
    await env.putActive(HOST, 'green');
    await env.until(HOST, { body: 'green' });
    const after = await scrapeUntil(env, 'the flip in the metrics', (s) => s.value(`${P}servers`, { state: 'active' }) === 2 && s.value(`${P}config_hash`) !== v(before, 'config_hash'));
    t.ok(v(after, 'applies_total', { mode: 'runtime' }) > count(before, 'applies_total', { mode: 'runtime' }), 'applies_total{mode="runtime"} rose');
    t.ok(v(after, 'runtime_api_commands_total', { result: 'ok' }) > count(before, 'runtime_api_commands_total', { result: 'ok' }), 'runtime_api_commands_total{result="ok"} rose');
    t.equal(v(after, 'reloads_total', { result: 'success' }), v(before, 'reloads_total', { result: 'success' }), 'a flip reloads nothing');
    t.ok(v(after, 'sync_latency_seconds_count') > v(before, 'sync_latency_seconds_count'), 'a sync latency was observed');
    t.ok(v(after, 'config_last_reload_success_timestamp_seconds') > v(before, 'config_last_reload_success_timestamp_seconds'), 'the success time moved on');
    t.ok(v(after, 'source_last_event_timestamp_seconds', { source: 'etcd' }) > v(before, 'source_last_event_timestamp_seconds', { source: 'etcd' }), 'the etcd event time moved on');
    t.equal(v(after, 'vhosts'), 1);
  });

  await t.test('a second vhost is counted, and applied by a reload', async (t) => {
    const before = await scrape(env);
    await env.putSpec('api.example.com', blueGreenSpec());
    const s = await scrapeUntil(env, 'two vhosts', (s) => s.value(`${P}vhosts`) === 2);
    t.equal(v(s, 'servers', { state: 'active' }), 4, 'two live pods for each vhost');
    t.ok(v(s, 'reloads_total', { result: 'success' }) > v(before, 'reloads_total', { result: 'success' }), 'a new vhost is a reload: reloads_total{result="success"} rose');
    t.ok(v(s, 'applies_total', { mode: 'reload' }) > v(before, 'applies_total', { mode: 'reload' }), 'applies_total{mode="reload"} rose');
  });

  await t.test('a template HAProxy rejects: last reload 0, /readyz says why, the last good config keeps serving', async (t) => {
    const before = await scrape(env);
    template.break();
    const after = await scrapeUntil(env, 'the failed check in the metrics', (s) => s.value(`${P}config_last_reload_successful`) === 0);
    t.equal(v(after, 'config_checks_total', { result: 'failure' }), v(before, 'config_checks_total', { result: 'failure' }) + 1, 'one failed haproxy -c');
    t.equal(v(after, 'reloads_total', { result: 'success' }) + v(after, 'reloads_total', { result: 'failure' }), v(before, 'reloads_total', { result: 'success' }) + v(before, 'reloads_total', { result: 'failure' }), 'no reload attempted');
    t.equal(v(after, 'config_hash'), v(before, 'config_hash'), 'config_hash still names the config HAProxy runs');
    const ready = await env.apiText('/readyz');
    t.equal(ready.status, 503, '/readyz is 503');
    const body = JSON.parse(ready.body) as { reasons: string[]; lastApply: { code: string } };
    t.match(body.reasons.join('\n'), /last apply failed \(HAPROXY_CHECK_FAILED\): haproxy -c rejected the rendered config: .*this-is-not-a-keyword/, 'and says why, in HAProxy\'s words');
    t.equal(body.lastApply.code, 'HAPROXY_CHECK_FAILED');
    t.match((await env.get(HOST)).body, /^green/, 'the last good config keeps serving');

    template.mend();
    await scrapeUntil(env, 'recovery in the metrics', (s) => s.value(`${P}config_last_reload_successful`) === 1);
    t.equal((await env.apiText('/readyz')).status, 200, 'ready again once the template is fixed');
  });

  await t.test('etcd down and back: source_up drops to 0 and returns, watch_restarts_total rises', async (t) => {
    const before = await scrape(env);
    await env.etcd.stop();
    const down = await scrapeUntil(env, 'etcd down in the metrics', (s) => s.value(`${P}source_up`, { source: 'etcd' }) === 0);
    t.equal(v(down, 'source_up', { source: 'static' }), 1, 'the other sources stay up');
    const again = await startEtcd({ dataDir: env.etcd.dataDir, clientPort: env.etcd.clientPort, peerPort: env.etcd.peerPort });
    t.teardown(() => again.stop());
    const up = await scrapeUntil(env, 'etcd back in the metrics', (s) => s.value(`${P}source_up`, { source: 'etcd' }) === 1);
    t.ok(v(up, 'watch_restarts_total', { source: 'etcd' }) > v(before, 'watch_restarts_total', { source: 'etcd' }), 'the watch restart was counted');
  });
});
