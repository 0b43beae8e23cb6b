// A bad active or spec value keeps the vhost's last good version serving, across a daemon restart, until a good value comes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Daemon } from '../../src/commands/run.ts';
import type { VHostView } from '../../src/http/vhosts.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { startLoad } from '../helpers/load.ts';
import { parseMetrics } from '../helpers/prometheus.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';

async function vhost(env: TestEnv): Promise<VHostView> {
  const res = await env.api('GET', `/v1/vhosts/${HOST}`);
  return res.body as VHostView;
}

/** Waits until the daemon reports this problem for the vhost, while it still serves the last good colour. */
async function servesLastGood(env: TestEnv, code: string): Promise<VHostView> {
  let view: VHostView | null = null;
  const deadline = Date.now() + 15000;
  for (;;) {
    view = await vhost(env);
    if (view.lastGood?.problem.code === code) return view;
    if (Date.now() > deadline) throw new Error(`no last good mark with ${code}: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(env: TestEnv, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return parseMetrics((await env.apiText('/metrics')).body).value(name, labels);
}

t.test('bad active and spec values, then a daemon restart: the last good colour serves throughout; a good value is applied', async (t) => {
  const env = await startEnv(t);
  let daemon: Daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.putActive(HOST, 'green');
  await env.until(HOST, { body: 'green' });
  await waitFor(() => daemon.reconciler.lastReport()?.ok === true && daemon.reconciler.applied() !== null, 10000, 'applied');
  const load = startLoad({ port: env.httpPort, host: HOST, keepAlive: 1, fresh: 1, maxMs: 50000 });
  t.teardown(() => load.stop());

  await env.putActive(HOST, 'purple');
  const first = await servesLastGood(env, 'ACTIVE_INVALID');
  t.equal(first.active, 'green', 'green still serves');
  t.match(first.problems, [{ code: 'ACTIVE_INVALID', source: `etcd key /haproxy-sync/vhosts/${HOST}/active`, message: /"purple" is not a colour/ }]);
  t.ok(env.logs.some((l) => l['code'] === 'ACTIVE_INVALID' && l['source'] === `etcd key /haproxy-sync/vhosts/${HOST}/active`), 'logged with the etcd key');
  t.equal(await metric(env, 'haproxy_sync_vhosts_last_good'), 1, 'vhosts_last_good');
  t.equal(await metric(env, 'haproxy_sync_problems', { code: 'ACTIVE_INVALID' }), 1, 'problems{code}');

  await env.putActive(HOST, 'not a colour!');
  await waitFor(() => env.logs.some((l) => l['code'] === 'ACTIVE_INVALID' && /not a colour!|must be/.test(String(l['msg']))), 10000, 'second bad value logged');
  t.equal((await vhost(env)).lastGood?.since, first.lastGood?.since, 'still the same last good since');

  await env.putSpec(HOST, '{"backends": {"blue": ');
  const bad = await servesLastGood(env, 'SPEC_INVALID');
  t.equal(bad.active, 'green');
  t.match((await env.servedBy(HOST, 6)).join(), /^(green green-\d,?)+$/, 'requests still reach green');

  await daemon.stop();
  t.ok(existsSync(join(env.dir, 'state', 'last-good.json')), 'the last good versions are in the state directory');
  daemon = await env.startDaemon();
  await waitFor(() => daemon.reconciler.lastReport() !== null, 15000, 'first sync after the restart');
  t.match(daemon.reconciler.lastReport(), { ok: true }, 'the restarted daemon applies (takes over) the last good version');
  const restarted = await servesLastGood(env, 'SPEC_INVALID');
  t.equal(restarted.active, 'green', 'after the restart, still green from the last good version');
  t.equal(restarted.lastGood?.since, first.lastGood?.since, 'the mark survives the restart');
  const node = (await env.client.get('/haproxy-sync/nodes/test-lb').string()) ?? '';
  t.match(JSON.parse(node), { vhosts: { [HOST]: { active: 'green', lastGood: { code: 'SPEC_INVALID' } } } }, 'the node key says so too');

  await env.putSpec(HOST, blueGreenSpec());
  await env.putActive(HOST, 'blue');
  await env.until(HOST, { body: 'blue' });
  await waitFor(() => daemon.reconciler.applied()?.desired.vhosts[0]?.active === 'blue', 10000, 'blue applied');
  const good = await vhost(env);
  t.equal(good.lastGood, null, 'no longer serving a last good version');
  t.equal(await metric(env, 'haproxy_sync_vhosts_last_good'), 0);

  const result = await load.stop();
  t.ok(result.ok > 50, `${result.ok} requests answered`);
  t.strictSame(result.failures, {}, 'no request failed (no 404, no 503) the whole time');
});

t.test('deleting a vhost removes it, even with a last good version', async (t) => {
  const env = await startEnv(t);
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  await env.putActive(HOST, 'purple');
  await servesLastGood(env, 'ACTIVE_INVALID');
  await env.del(`vhosts/${HOST}/active`);
  await env.del(`vhosts/${HOST}/spec`);
  await env.until(HOST, { status: 404 });
  await waitFor(() => daemon.reconciler.applied()?.desired.vhosts.length === 0, 10000, 'the removal recorded');
  const res = await env.api('GET', `/v1/vhosts/${HOST}`);
  t.equal(res.status, 404, `the vhost is gone from the API: ${JSON.stringify(res.body)}`);
});
