// The Kubernetes source against the fake API server and the real client
// library: sync gating, restarts, relists after 410 and stalls, credentials,
// namespaces. End-to-end routing through HAProxy is in kubernetes.test.ts.
import { writeFileSync } from 'node:fs';
import t from 'tap';
import type { Test } from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import { servicesFromSlices } from '../../src/sources/kubernetes-endpoints.ts';
import { KubernetesSource } from '../../src/sources/kubernetes.ts';
import { FakeApiServer, endpointSlice, service, type FakeApiServerOptions } from '../fixtures/fake-apiserver.ts';
import { captureLogs } from '../helpers/logs.ts';
import { tmpDir } from '../helpers/tmp.ts';

const WATCH_TIMEOUT_SECONDS = 5;

interface SetupOptions {
  readonly server?: FakeApiServerOptions;
  readonly token?: string | null;
  readonly namespaces?: readonly string[];
  readonly endpoints?: 'slices' | 'endpoints';
  readonly seed?: (server: FakeApiServer) => void;
}

async function setup(t: Test, opts: SetupOptions = {}) {
  const server = await FakeApiServer.start({ bookmarkIntervalMs: 500, ...opts.server });
  t.teardown(() => server.stop());
  opts.seed?.(server);
  const dir = tmpDir(t);
  const kubeconfig = await server.writeKubeconfig(dir, opts.token === undefined ? {} : { token: opts.token });
  const { log, logs } = captureLogs();
  const source = new KubernetesSource({
    kubeconfig,
    inCluster: false,
    namespaces: opts.namespaces ?? [],
    endpoints: opts.endpoints ?? 'slices',
    watchTimeoutSeconds: WATCH_TIMEOUT_SECONDS,
    log,
  });
  let changes = 0;
  const start = (): void => source.start(() => void changes++);
  t.teardown(() => source.stop());
  return { server, source, logs, kubeconfig, start, changes: () => changes };
}

function seedWeb(server: FakeApiServer, ips: readonly string[] = ['10.0.0.1', '10.0.0.2']): void {
  server.apply('services', service('shop', 'web', [{ name: 'http', port: 80, targetPort: 'http' }]));
  server.apply('endpointslices', endpointSlice('shop', 'web-a', 'web', ips.map((ip) => ({ ip })), [{ name: 'http', port: 8080 }]));
}

function addresses(source: KubernetesSource, ref = 'shop/web', port = 'http'): string[] {
  return (source.snapshot()?.services[ref]?.ports[port] ?? []).map((e) => `${e.address}:${e.port}`);
}

const until = (what: string, cond: () => boolean, timeoutMs = 15000): Promise<void> => waitUntil(what, async () => cond(), timeoutMs);

t.test('synced only after every resource has been listed once; never half a cluster', async (t) => {
  const { server, source, start } = await setup(t, { seed: seedWeb });
  server.failWith(503, { path: /endpointslices/ });
  start();
  await server.waitForRequest((r) => !r.watch && r.path === '/api/v1/services');
  await until('a refused EndpointSlice list', () => source.status().lastError !== null);
  await until('the services watch', () => server.requests.some((r) => r.watch && r.path === '/api/v1/services'));
  t.equal(source.snapshot(), null, 'Services alone are not a snapshot');
  t.equal(source.status().synced, false);
  t.match(source.status().lastError, /endpointslices \(all namespaces\): reading endpointslices from http:\/\/127\.0\.0\.1:\d+: the API server answered HTTP 503 \(the server is currently unable to handle the request\)/);

  server.failWith(null);
  await until('synced', () => source.status().synced);
  t.same(addresses(source), ['10.0.0.1:8080', '10.0.0.2:8080']);
  t.ok(source.status().restarts >= 1, 'the failed list was restarted');
  await until('up', () => source.status().up);
  t.equal(source.status().lastError, null, 'the error clears once it works again');
});

t.test('watches ask for bookmarks and a server-side timeout, and follow changes', async (t) => {
  const { server, source, start, changes } = await setup(t, { seed: seedWeb });
  start();
  await until('synced', () => source.status().synced);
  const watch = await server.waitForRequest((r) => r.watch && r.path.endsWith('/endpointslices'));
  t.match(watch.query, { allowWatchBookmarks: 'true', timeoutSeconds: String(WATCH_TIMEOUT_SECONDS), labelSelector: 'kubernetes.io/service-name' });
  const before = changes();
  server.apply('endpointslices', endpointSlice('shop', 'web-a', 'web', [{ ip: '10.0.0.2' }, { ip: '10.0.0.3' }, { ip: '10.0.0.1', ready: false }], [{ name: 'http', port: 8080 }]));
  await until('the update', () => addresses(source).includes('10.0.0.3:8080'));
  t.same(addresses(source), ['10.0.0.2:8080', '10.0.0.3:8080']);
  t.ok(changes() > before, 'the source said something changed');
  server.remove('services', 'shop', 'web');
  await until('the Service gone', () => source.snapshot()?.services['shop/web'] === undefined);
  t.equal(source.status().restarts, 0, 'no restart while everything works');
});

t.test('410 in the middle of a watch: relisted, and what was deleted meanwhile is gone', async (t) => {
  const { server, source, start, logs } = await setup(t, {
    seed: (s) => {
      seedWeb(s);
      s.apply('endpointslices', endpointSlice('shop', 'web-b', 'web', [{ ip: '10.0.0.9' }], [{ name: 'http', port: 8080 }]));
    },
  });
  start();
  await until('synced', () => addresses(source).length === 3);
  await server.waitForRequest((r) => r.watch && r.path.endsWith('/endpointslices'));
  const lists = (): number => server.requests.filter((r) => !r.watch && r.path.endsWith('/endpointslices')).length;
  const listsBefore = lists();

  // The deletion is never sent on the stream: etcd compacted past it, the watch ends with 410.
  server.stallStreams();
  server.remove('endpointslices', 'shop', 'web-b');
  server.apply('endpointslices', endpointSlice('shop', 'web-a', 'web', [{ ip: '10.0.0.1' }], [{ name: 'http', port: 8080 }]));
  server.compact();
  server.sendGone({ dropPending: true });
  server.unstall();
  await until('the relist', () => addresses(source).length === 1);
  t.same(addresses(source), ['10.0.0.1:8080'], 'the deleted slice and the removed pod are gone');
  t.equal(lists(), listsBefore + 1, 'exactly one relist');
  t.equal(source.status().restarts, 0, 'a 410 is the protocol working, not a failure');
  t.notOk(logs.some((l) => l['level'] === 'error'), 'nothing logged as an error');
});

t.test('a pod change renews only its own Service; a relist renews none whose endpoints stayed the same', async (t) => {
  const { server, source, start } = await setup(t, {
    seed: (s) => {
      seedWeb(s);
      s.apply('services', service('shop', 'api', [{ name: 'http', port: 80 }]));
      s.apply('endpointslices', endpointSlice('shop', 'api-a', 'api', [{ ip: '10.0.1.1' }], [{ name: 'http', port: 8080 }]));
    },
  });
  start();
  await until('synced', () => addresses(source, 'shop/api').length === 1 && addresses(source).length === 2);
  await server.waitForRequest((r) => r.watch && r.path.endsWith('/endpointslices'));
  const first = source.snapshot();
  server.apply('endpointslices', endpointSlice('shop', 'web-a', 'web', [{ ip: '10.0.0.1' }, { ip: '10.0.0.3' }], [{ name: 'http', port: 8080 }]));
  await until('the pod change', () => addresses(source).includes('10.0.0.3:8080'));
  const second = source.snapshot();
  t.not(second?.services['shop/web'], first?.services['shop/web'], 'the changed Service is a new object');
  t.equal(second?.services['shop/api'], first?.services['shop/api'], 'the other Service is the very same object');
  t.same(second, servicesFromSlices(server.list('services'), server.list('endpointslices')), 'the same as translating the whole cluster');

  // The relist brings every object anew, and one change that leaves the ready pods as they were.
  const lists = (): number => server.requests.filter((r) => !r.watch && r.path.endsWith('/endpointslices')).length;
  const listsBefore = lists();
  server.stallStreams();
  server.apply('endpointslices', endpointSlice('shop', 'web-a', 'web', [{ ip: '10.0.0.1' }, { ip: '10.0.0.3' }, { ip: '10.0.0.4', ready: false }], [{ name: 'http', port: 8080 }]));
  server.compact();
  server.sendGone({ dropPending: true });
  server.unstall();
  await until('the relist', () => lists() > listsBefore && source.snapshot() !== second);
  const third = source.snapshot();
  t.equal(third?.services['shop/web'], second?.services['shop/web'], 'same ready pods after the relist: the same object');
  t.equal(third?.services['shop/api'], second?.services['shop/api']);
});

t.test('410 as an HTTP status on the next watch: relisted, deletions applied', async (t) => {
  const { server, source, start } = await setup(t, { server: { expiredWatchAs: 'status' }, seed: seedWeb });
  start();
  await until('synced', () => addresses(source).length === 2);
  await server.waitForRequest((r) => r.watch && r.path.endsWith('/endpointslices'));
  server.stallStreams();
  server.remove('endpointslices', 'shop', 'web-a');
  server.compact();
  server.endStreams({ dropPending: true });
  server.unstall();
  await until('the relist', () => addresses(source).length === 0);
  t.same(source.snapshot()?.services['shop/web']?.ports['http'], [], 'the Service is known, with no endpoints left');
});

t.test('a stalled stream is detected within twice the watch timeout and relisted', async (t) => {
  const { server, source, start, logs } = await setup(t, { seed: seedWeb });
  start();
  await until('synced', () => addresses(source).length === 2);
  await server.waitForRequest((r) => r.watch && r.path.endsWith('/endpointslices'));
  t.equal(source.stallBoundMs, 2 * WATCH_TIMEOUT_SECONDS * 1000, 'the documented bound');

  server.stallStreams();
  const stalledAt = server.requests.length;
  server.apply('endpointslices', endpointSlice('shop', 'web-a', 'web', [{ ip: '10.0.0.7' }], [{ name: 'http', port: 8080 }]));
  await until('the change, through a relist', () => addresses(source).join() === '10.0.0.7:8080', source.stallBoundMs + 10000);
  const stall = logs.find((l) => l['code'] === 'SOURCE_STALLED');
  t.ok(stall, 'the stall is logged with its code');
  t.ok(Number(stall?.['silentMs']) > source.stallBoundMs, 'declared only once the bound had passed');
  t.equal(stall?.['boundMs'], source.stallBoundMs);
  t.ok(server.requests.slice(stalledAt).some((r) => !r.watch && r.path.endsWith('/endpointslices')), 'a fresh list was made');
  t.ok(source.status().restarts >= 1, 'counted as a restart');

  server.unstall();
  server.apply('endpointslices', endpointSlice('shop', 'web-a', 'web', [{ ip: '10.0.0.8' }], [{ name: 'http', port: 8080 }]));
  await until('a change after the stall ends', () => addresses(source).join() === '10.0.0.8:8080');
  await until('up again', () => source.status().up);
});

t.test('a wrong or missing token: a clear error, retries, and recovery once the kubeconfig is fixed', async (t) => {
  for (const token of ['wrong', null]) {
    await t.test(token === null ? 'no token' : 'wrong token', async (t) => {
      const { server, source, start, logs, kubeconfig } = await setup(t, { server: { token: 'right' }, seed: seedWeb, token });
      start();
      await until('two refused lists', () => server.requests.filter((r) => !r.watch && r.path === '/api/v1/services').length >= 2);
      t.equal(source.snapshot(), null);
      const status = source.status();
      t.equal(status.synced, false);
      t.match(status.lastError, `401 Unauthorized: the API server refused the credentials of kubeconfig ${kubeconfig}; fix its token or client certificate`);
      t.ok(status.restarts >= 2, 'retried');
      const logged = logs.find((l) => l['code'] === 'KUBERNETES_UNAUTHORIZED');
      t.match(logged, { level: 'error', source: 'kubernetes', err: /401 Unauthorized/ });
      t.ok(Number(logged?.['retryInMs']) >= 800, 'the first retry waits about a second');

      writeFileSync(kubeconfig, server.kubeconfig());
      await until('synced with the fixed kubeconfig', () => source.status().synced, 30000);
      t.same(addresses(source), ['10.0.0.1:8080', '10.0.0.2:8080']);
    });
  }
});

t.test('a kubeconfig that cannot be read is reported and retried', async (t) => {
  const { server, source, start, kubeconfig } = await setup(t, { seed: seedWeb });
  writeFileSync(kubeconfig, 'clusters: [');
  start();
  await until('an error', () => source.status().lastError !== null);
  t.match(source.status().lastError, `kubeconfig ${kubeconfig}: cannot load it`);
  writeFileSync(kubeconfig, server.kubeconfig());
  await until('synced', () => source.status().synced, 30000);
});

t.test('a namespace filter: only those namespaces are listed, watched and served', async (t) => {
  const { server, source, start } = await setup(t, {
    namespaces: ['shop', 'prod'],
    seed: (s) => {
      seedWeb(s);
      s.apply('services', service('other', 'web', [{ name: 'http', port: 80 }]));
      s.apply('endpointslices', endpointSlice('other', 'web-a', 'web', [{ ip: '10.9.0.1' }], [{ name: 'http', port: 8080 }]));
    },
  });
  start();
  await until('synced', () => source.status().synced);
  t.same(Object.keys(source.snapshot()?.services ?? {}), ['shop/web']);
  await server.waitForRequest((r) => r.watch && r.path === '/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices');
  const paths = [...new Set(server.requests.map((r) => r.path))].sort();
  t.same(paths, [
    '/api/v1/namespaces/prod/services',
    '/api/v1/namespaces/shop/services',
    '/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices',
    '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices',
  ]);
  server.apply('endpointslices', endpointSlice('other', 'web-a', 'web', [{ ip: '10.9.0.2' }], [{ name: 'http', port: 8080 }]));
  server.apply('endpointslices', endpointSlice('shop', 'web-a', 'web', [{ ip: '10.0.0.5' }], [{ name: 'http', port: 8080 }]));
  await until('the shop change', () => addresses(source).join() === '10.0.0.5:8080');
  t.equal(source.snapshot()?.services['other/web'], undefined, 'the other namespace never shows');
});

t.test('Endpoints mode reads core/v1 Endpoints instead of slices', async (t) => {
  const { server, source, start } = await setup(t, { endpoints: 'endpoints', seed: seedWeb });
  server.apply('endpoints', { metadata: { name: 'web', namespace: 'shop' }, subsets: [{ addresses: [{ ip: '10.0.0.3' }], notReadyAddresses: [{ ip: '10.0.0.4' }], ports: [{ name: 'http', port: 8080 }] }] });
  start();
  await until('synced', () => source.status().synced);
  t.same(addresses(source), ['10.0.0.3:8080'], 'from the Endpoints object, not the slice');
  t.notOk(server.requests.some((r) => r.path.includes('endpointslices')), 'slices are not read');
});

t.test('stop() is quiet: no error logged and no request made afterwards', async (t) => {
  const { server, source, start, logs } = await setup(t, { seed: seedWeb });
  start();
  await until('synced', () => source.status().synced);
  await server.waitForRequest((r) => r.watch && r.path.endsWith('/endpointslices'));
  await source.stop();
  const after = server.requests.length;
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(server.requests.length, after, 'no request after stop');
  t.equal(server.openWatches, 0, 'no watch left open');
  t.notOk(logs.some((l) => l['level'] === 'error' || l['level'] === 'warn'), 'the deliberate stop is not reported as a failure');
});
