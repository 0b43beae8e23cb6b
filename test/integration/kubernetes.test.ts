// The daemon with Kubernetes as its endpoint source: the fake API server,
// the real client library, real etcd, real HAProxy and real traffic to pods
// on pod IPs (loopback addresses). Outages, 410s and stalls are in
// kubernetes-recovery.test.ts.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import t from 'tap';
import { renderOnce } from '../../src/commands/render.ts';
import { waitUntil } from '../../src/demo/processes.ts';
import { BIN, blueGreenSpec, startEnv } from '../helpers/env.ts';
import { captureLogs } from '../helpers/logs.ts';

const HOST = 'shop.example.com';
const run = promisify(execFile);

t.test('pods added, marked not ready, terminating and removed: traffic follows', async (t) => {
  const env = await startEnv(t, { kubernetes: {}, services: { 'shop/web-blue': ['blue', 2], 'shop/web-green': ['green', 1] } });
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  const [blue1, blue2] = env.pods.filter((p) => p.colour === 'blue');
  if (!blue1 || !blue2) throw new Error('two blue pods expected');
  await env.untilServedBy(HOST, [blue1, blue2]);
  t.match(readFileSync(env.paths.config, 'utf8'), `${blue1.address}:${blue1.port}`, 'HAProxy sends traffic straight to the pod IP');

  const blue3 = await env.startPod('blue', 'blue-3');
  env.publish('shop/web-blue', [blue1, blue2, blue3]);
  await env.untilServedBy(HOST, [blue1, blue2, blue3]);
  t.pass('a pod added to the slice takes traffic');

  env.publish('shop/web-blue', [blue2, blue3], { notReady: [blue1] });
  await env.untilServedBy(HOST, [blue2, blue3]);
  t.pass('a pod marked not ready takes no traffic');

  env.publish('shop/web-blue', [blue3], { notReady: [blue1], terminating: [blue2] });
  await env.untilServedBy(HOST, [blue3]);
  t.pass('a terminating pod takes no traffic');

  env.publish('shop/web-blue', [blue1]);
  await env.untilServedBy(HOST, [blue1]);
  t.pass('ready again, and the others removed');

  await env.putActive(HOST, 'green');
  await env.until(HOST, { body: 'green green-1' });
  t.pass('the flip still works with Kubernetes endpoints');
});

t.test('several slices of one Service are merged', async (t) => {
  const env = await startEnv(t, { kubernetes: {}, services: { 'shop/web-blue': ['blue', 1], 'shop/web-green': ['green', 1] } });
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  const blue1 = env.pods.find((p) => p.name === 'blue-1');
  if (!blue1) throw new Error('blue-1 expected');
  await env.untilServedBy(HOST, [blue1]);
  const blue2 = await env.startPod('blue', 'blue-2');
  const blue3 = await env.startPod('blue', 'blue-3');
  env.publish('shop/web-blue', [blue2], { slice: 'web-blue-b' });
  env.publish('shop/web-blue', [blue3], { slice: 'web-blue-c' });
  await env.untilServedBy(HOST, [blue1, blue2, blue3]);
  t.equal(env.kube?.list('endpointslices', 'shop').filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === 'web-blue').length, 3);
  env.kube?.remove('endpointslices', 'shop', 'web-blue-b');
  await env.untilServedBy(HOST, [blue1, blue3]);
  t.pass('a deleted slice takes its pods with it, the others stay');
});

t.test('a namespace filter: Services elsewhere are unknown to the daemon', async (t) => {
  const env = await startEnv(t, {
    kubernetes: { namespaces: ['shop'] },
    services: { 'shop/web-blue': ['blue', 1], 'other/web-green': ['green', 1] },
  });
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.putSpec('other.example.com', { backends: { green: { service: 'other/web-green', port: 'http' } } });
  await env.until(HOST, { body: 'blue blue-1' });
  await waitUntil('the other vhost reported', async () => daemon.reconciler.problems().some((p) => p.host === 'other.example.com'), 10000);
  t.match(daemon.reconciler.problems().find((p) => p.host === 'other.example.com'), { code: 'SERVICE_UNRESOLVED', message: 'service other/web-green is not known to any endpoint source' });
  await env.until('other.example.com', { status: 503 });
  t.pass('its backend is rendered without servers');
  t.notMatch(readFileSync(env.paths.config, 'utf8'), env.pods.find((p) => p.colour === 'green')?.address ?? 'no green pod', 'no address from the other namespace in haproxy.cfg');
  t.ok(env.kube?.requests.every((r) => r.path.includes('/namespaces/shop/')), 'only the shop namespace was read');
});

t.test('Endpoints mode serves the same pods, follows readiness, and renders what slices render', async (t) => {
  const env = await startEnv(t, { kubernetes: { endpoints: 'endpoints' } });
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  const [blue1, blue2] = env.pods.filter((p) => p.colour === 'blue');
  if (!blue1 || !blue2) throw new Error('two blue pods expected');
  await env.untilServedBy(HOST, [blue1, blue2]);
  env.publish('shop/web-blue', [blue2], { notReady: [blue1] });
  await env.untilServedBy(HOST, [blue2]);
  t.ok(env.kube?.requests.some((r) => r.path === '/api/v1/endpoints'), 'read from core/v1 Endpoints');
  t.notOk(env.kube?.requests.some((r) => r.path.includes('endpointslices')), 'slices are not read');

  const config = env.config();
  const { log } = captureLogs();
  if (!config.kubernetes) throw new Error('kubernetes config expected');
  const fromEndpoints = await renderOnce(config, log);
  const fromSlices = await renderOnce({ ...config, kubernetes: { ...config.kubernetes, endpoints: 'slices' } }, log);
  t.equal(fromEndpoints.rendered.config, fromSlices.rendered.config, 'byte-identical haproxy.cfg from either kind');
  t.match(fromSlices.rendered.config, `${blue2.address}:${blue2.port}`);
  t.notMatch(fromSlices.rendered.config, `${blue1.address}:${blue1.port}`);
});

t.test('a wrong or missing token: a clear error on /readyz, retries, nothing applied; fixed kubeconfig → serving', async (t) => {
  for (const token of ['wrong', null]) {
    await t.test(token === null ? 'no token' : 'wrong token', async (t) => {
      const env = await startEnv(t, { kubernetes: { server: { token: 'right' }, token } });
      const kubeconfig = env.kubeconfig ?? '';
      await env.startDaemon();
      await env.putSpec(HOST, blueGreenSpec());
      const reloadsBefore = await env.reloads();
      await waitUntil('two refused lists', async () => (env.kube?.requests.filter((r) => !r.watch && r.path === '/api/v1/services').length ?? 0) >= 2, 15000);
      const ready = await fetch(`http://127.0.0.1:${env.apiPort}/readyz`);
      t.equal(ready.status, 503);
      const body = (await ready.json()) as { reasons: string[] };
      t.match(body.reasons.join('\n'), `source kubernetes has not synced: services (all namespaces): reading services from ${env.kube?.url}: 401 Unauthorized: the API server refused the credentials of kubeconfig ${kubeconfig}`);
      t.equal((await fetch(`http://127.0.0.1:${env.apiPort}/healthz`)).status, 200, 'the daemon is alive');
      t.ok(env.logs.some((l) => l['code'] === 'KUBERNETES_UNAUTHORIZED' && l['level'] === 'error'), 'logged with its code');
      t.equal(await env.reloads(), reloadsBefore, 'nothing rendered or applied without Kubernetes data');

      writeFileSync(kubeconfig, env.kube?.kubeconfig() ?? '');
      await env.until(HOST, { body: 'blue' }, 30000);
      t.pass('serving once the kubeconfig is fixed, without a restart');
    });
  }
});

t.test('haproxy-sync render and check read Kubernetes', async (t) => {
  const env = await startEnv(t, { kubernetes: {} });
  await env.putSpec(HOST, blueGreenSpec());
  const blue = env.pods.filter((p) => p.colour === 'blue');
  const rendered = await run(process.execPath, [BIN, 'render', '--config', env.configFile]);
  for (const pod of blue) t.match(rendered.stdout, `${pod.address}:${pod.port}`, `render lists ${pod.name}`);
  t.match(rendered.stdout, /^backend be_shop\.example\.com_blue$/m);
  const checked = await run(process.execPath, [BIN, 'check', '--config', env.configFile]);
  t.match(checked.stdout, /^valid: 1 vhosts, 0 problems, haproxy -c passed/);

  env.kube?.failWith(503);
  const failed = await run(process.execPath, [BIN, 'render', '--config', env.configFile]).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  t.not(failed.code, 0, 'render fails when Kubernetes cannot be read');
  t.match(failed.stderr, /kubernetes \(services \(all namespaces\): reading services from .*: the API server answered HTTP 503/);
});
