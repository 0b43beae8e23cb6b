// Proves the fake kube-apiserver is faithful enough for the real
// @kubernetes/client-node informer, watch and typed API clients.

import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ApiException,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  ListWatch,
  Watch,
  makeInformer,
} from '@kubernetes/client-node';
import type { Informer, KubernetesListObject, KubernetesObject, ObjectCache, V1EndpointSlice, V1Endpoints, V1Service } from '@kubernetes/client-node';
import { FakeApiServer, endpointSlice, endpoints, service } from '../fixtures/fake-apiserver.ts';
import type { FakeApiServerOptions, LoggedRequest } from '../fixtures/fake-apiserver.ts';

type AnyInformer<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;
type Verb = 'add' | 'update' | 'delete';

const GUARD_MS = 8000;

/** Rejects if the promise has not settled in GUARD_MS (keeps a broken test from hanging; not a timing assertion). */
function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), GUARD_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function nextObject<T extends KubernetesObject>(inf: AnyInformer<T>, verb: Verb, pred: (o: T) => boolean = () => true): Promise<T> {
  return guard(
    new Promise<T>((resolve) => {
      const cb = (o: T) => {
        if (!pred(o)) return;
        inf.off(verb, cb);
        resolve(o);
      };
      inf.on(verb, cb);
    }),
    `${verb} event`,
  );
}

function nextError<T extends KubernetesObject>(inf: AnyInformer<T>): Promise<any> {
  return guard(
    new Promise<any>((resolve) => {
      const cb = (err: any) => {
        inf.off('error', cb);
        resolve(err);
      };
      inf.on('error', cb);
    }),
    'error event',
  );
}

function named(name: string) {
  return (o: KubernetesObject) => o.metadata?.name === name;
}

async function setup(t: Test, opts: FakeApiServerOptions = {}) {
  const server = await FakeApiServer.start(opts);
  t.teardown(() => server.stop());
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig());
  return { server, kc, core: kc.makeApiClient(CoreV1Api), discovery: kc.makeApiClient(DiscoveryV1Api) };
}

/** Starts an informer and stops it at teardown (stop() makes the client report an AbortError; that is ignored). */
async function run<T extends KubernetesObject>(t: Test, inf: AnyInformer<T>): Promise<AnyInformer<T>> {
  t.teardown(async () => {
    inf.on('error', () => {});
    await inf.stop();
  });
  await inf.start();
  return inf;
}

/** An informer built like makeInformer, but with a Watch we can tune and no reconnect back-off. */
function listWatch<T extends KubernetesObject>(
  kc: KubeConfig,
  apiPath: string,
  listFn: () => Promise<KubernetesListObject<T>>,
  opts: { labelSelector?: string; watch?: Watch; requestTimeoutMs?: number } = {},
): ListWatch<T> {
  const watch = opts.watch ?? new Watch(kc);
  if (opts.requestTimeoutMs !== undefined) Reflect.set(watch, 'requestTimeoutMs', opts.requestTimeoutMs);
  return new ListWatch(apiPath, watch, listFn, false, opts.labelSelector, undefined, { delayFn: () => Promise.resolve() });
}

/** Raw GET with the server's bearer token (or the given Authorization header). */
async function get(server: FakeApiServer, p: string, authorization: string | null = `Bearer ${server.token ?? 'fake-token'}`) {
  const headers: Record<string, string> = {};
  if (authorization !== null) headers['Authorization'] = authorization;
  const res = await fetch(server.url + p, { headers });
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as any };
}

/** A one-shot watch through the client's Watch class; collects events until the stream ends. */
function watchOnce(kc: KubeConfig, p: string, query: Record<string, string | number | boolean | undefined>, until?: (type: string, obj: any) => boolean) {
  const events: Array<{ type: string; object: any }> = [];
  let controller: AbortController | undefined;
  let wantAbort = false;
  const done = guard(
    new Promise<any>((resolve) => {
      void new Watch(kc)
        .watch(
          p,
          query,
          (type, obj) => {
            events.push({ type, object: obj });
            if (until?.(type, obj)) {
              wantAbort = true;
              controller?.abort();
            }
          },
          (err) => resolve(err),
        )
        .then((c) => {
          controller = c;
          if (wantAbort) c.abort();
        });
    }),
    `watch on ${p} to end`,
  );
  return { events, done };
}

/** Waits (guarded) until the server has logged a matching request at index >= since. */
function requestSeen(server: FakeApiServer, pred: (r: LoggedRequest) => boolean, since = 0): Promise<LoggedRequest> {
  return guard(server.waitForRequest(pred, { since }), 'a request to reach the server');
}

function watchRequests(server: FakeApiServer): LoggedRequest[] {
  return server.requests.filter((r) => r.watch);
}

// ---------------------------------------------------------------------------

t.test('services informer from a kubeconfig file: add, update, delete, cluster-wide', async (t) => {
  const server = await FakeApiServer.start({ token: 's3cret' });
  t.teardown(() => server.stop());
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-apiserver-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kc = new KubeConfig();
  kc.loadFromFile(await server.writeKubeconfig(dir));
  const core = kc.makeApiClient(CoreV1Api);

  server.apply('services', service('default', 'web', [{ name: 'http', port: 80, targetPort: 8080 }]));
  server.apply('services', service('shop', 'cart', [{ port: 443 }]));

  const inf = makeInformer<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  const firstAdds: string[] = [];
  inf.on('add', (o) => firstAdds.push(`${o.metadata?.namespace}/${o.metadata?.name}`));
  const connected = guard(new Promise<void>((resolve) => inf.on('connect', () => resolve())), 'connect');
  await run(t, inf);
  await connected;
  t.same(firstAdds.sort(), ['default/web', 'shop/cart'], 'initial list fed the cache');
  t.equal(inf.get('web', 'default')?.spec?.ports?.[0]?.targetPort, 8080);
  await requestSeen(server, (r) => r.watch);

  const added = nextObject(inf, 'add', named('api'));
  server.apply('services', service('default', 'api', [{ port: 8080 }]));
  const a = await added;
  t.equal(a.kind, 'Service', 'watch objects carry kind');
  t.equal(a.apiVersion, 'v1');
  t.equal(a.metadata?.resourceVersion, server.resourceVersion());
  t.ok(a.metadata?.uid, 'uid set');
  t.match(a.metadata?.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'timestamp in RFC 3339 seconds');

  const updated = nextObject(inf, 'update', named('web'));
  server.apply('services', service('default', 'web', [{ name: 'http', port: 80, targetPort: 9090 }]));
  const u = await updated;
  t.equal(u.spec?.ports?.[0]?.targetPort, 9090);
  t.equal(inf.get('web', 'default')?.spec?.ports?.[0]?.targetPort, 9090, 'cache updated');
  t.equal(u.metadata?.uid, server.get('services', 'default', 'web')?.metadata.uid, 'uid kept across updates');

  const deleted = nextObject(inf, 'delete', named('cart'));
  t.equal(server.remove('services', 'shop', 'cart'), true);
  const d = await deleted;
  t.equal(d.metadata?.resourceVersion, server.resourceVersion(), 'DELETED carries the deletion resourceVersion');
  t.equal(inf.get('cart', 'shop'), undefined);
  t.same(
    inf.list().map((o) => o.metadata?.name).sort(),
    ['api', 'web'],
  );
  t.ok(server.requests.every((r) => r.authorization === 'Bearer s3cret'), 'client sent the bearer token');
});

t.test('endpointslices informers: cluster-wide with label selector, and namespaced', async (t) => {
  const { server, kc, discovery } = await setup(t);
  server.apply('endpointslices', endpointSlice('prod', 'web-abc', 'web', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false }], [{ name: 'http', port: 8080 }]));
  server.apply('endpointslices', endpointSlice('dev', 'web-xyz', 'web', [{ ip: '10.1.0.1' }], [{ port: 8080 }]));
  server.apply('endpointslices', endpointSlice('prod', 'api-123', 'api', [{ ip: 'fd00::1' }], [{ port: 9000 }], 'IPv6'));

  const selector = 'kubernetes.io/service-name=web';
  const all = makeInformer<V1EndpointSlice>(
    kc,
    '/apis/discovery.k8s.io/v1/endpointslices',
    () => discovery.listEndpointSliceForAllNamespaces({ labelSelector: selector }),
    selector,
  );
  const prod = makeInformer<V1EndpointSlice>(kc, '/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices', () =>
    discovery.listNamespacedEndpointSlice({ namespace: 'prod' }),
  );
  await run(t, all);
  await run(t, prod);
  t.same(all.list().map((o) => o.metadata?.name).sort(), ['web-abc', 'web-xyz'], 'selector applied to the list');
  t.same(prod.list().map((o) => o.metadata?.name).sort(), ['api-123', 'web-abc'], 'namespace applied to the list');
  const slice = prod.get('web-abc', 'prod');
  t.equal(slice?.addressType, 'IPv4');
  t.same(slice?.endpoints?.map((e) => [e.addresses[0], e.conditions?.ready]), [['10.0.0.1', true], ['10.0.0.2', false]]);
  t.equal(prod.get('api-123', 'prod')?.addressType, 'IPv6');
  await requestSeen(server, (r) => r.watch && r.path === '/apis/discovery.k8s.io/v1/endpointslices');
  await requestSeen(server, (r) => r.watch && r.path === '/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices');
  const watchReq = watchRequests(server).find((r) => r.path === '/apis/discovery.k8s.io/v1/endpointslices');
  t.equal(watchReq?.query['labelSelector'], selector, 'informer passes the selector to the watch');

  // A label change out of the selector is a DELETED for that watch, back in is an ADDED.
  const gone = nextObject(all, 'delete', named('web-xyz'));
  const prodUnaffected: string[] = [];
  prod.on('add', (o) => prodUnaffected.push(o.metadata?.name ?? ''));
  server.apply('endpointslices', endpointSlice('dev', 'web-xyz', 'other', [{ ip: '10.1.0.1' }], [{ port: 8080 }]));
  await gone;
  t.equal(all.get('web-xyz', 'dev'), undefined);
  const back = nextObject(all, 'add', named('web-xyz'));
  server.apply('endpointslices', endpointSlice('dev', 'web-xyz', 'web', [{ ip: '10.1.0.9' }], [{ port: 8080 }]));
  t.equal((await back).endpoints?.[0]?.addresses[0], '10.1.0.9');

  // Changes outside the selector are never delivered; in-selector ones are.
  const update = nextObject(all, 'update', named('web-abc'));
  const prodUpdate = nextObject(prod, 'update', named('web-abc'));
  server.apply('endpointslices', endpointSlice('prod', 'api-123', 'api', [{ ip: 'fd00::2' }], [{ port: 9000 }], 'IPv6'));
  server.apply('endpointslices', endpointSlice('prod', 'web-abc', 'web', [{ ip: '10.0.0.1', terminating: true }], [{ port: 8080 }]));
  const u = await update;
  t.same(u.endpoints?.[0]?.conditions, { ready: false, serving: false, terminating: true });
  await prodUpdate;
  t.equal(all.get('api-123', 'prod'), undefined, 'non-matching slice never reached the selector informer');
  t.same(prodUnaffected, [], 'the dev namespace never reached the prod informer');
});

t.test('endpoints informer, namespaced and cluster-wide', async (t) => {
  const { server, kc, core } = await setup(t);
  server.apply('endpoints', endpoints('default', 'web', [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ name: 'http', port: 8080 }] }]));
  server.apply('endpoints', endpoints('other', 'web', [{ addresses: [{ ip: '10.9.0.1' }] }]));
  const ns = makeInformer<V1Endpoints>(kc, '/api/v1/namespaces/default/endpoints', () => core.listNamespacedEndpoints({ namespace: 'default' }));
  const all = makeInformer<V1Endpoints>(kc, '/api/v1/endpoints', () => core.listEndpointsForAllNamespaces());
  await run(t, ns);
  await run(t, all);
  t.same(ns.list().map((o) => o.metadata?.namespace), ['default']);
  t.equal(all.list().length, 2);
  t.equal(ns.get('web', 'default')?.subsets?.[0]?.ports?.[0]?.port, 8080);
  await requestSeen(server, (r) => r.watch && r.path === '/api/v1/namespaces/default/endpoints');
  await requestSeen(server, (r) => r.watch && r.path === '/api/v1/endpoints');

  const updated = nextObject(ns, 'update', named('web'));
  const updatedAll = nextObject(all, 'update', named('web'));
  server.apply('endpoints', endpoints('default', 'web', [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], notReadyAddresses: [{ ip: '10.0.0.3' }] }]));
  t.equal((await updated).subsets?.[0]?.addresses?.length, 2);
  t.equal((await updatedAll).kind, 'Endpoints');
  const deleted = nextObject(ns, 'delete', named('web'));
  server.remove('endpoints', 'default', 'web');
  await deleted;
  t.equal(ns.list().length, 0);
});

t.test('list then watch: the watch resumes at the list resourceVersion, nothing is lost in between', async (t) => {
  const { server, kc, core } = await setup(t);
  server.apply('services', service('default', 'a', [{ port: 80 }]));
  let listRv = '';
  const inf = makeInformer<V1Service>(kc, '/api/v1/services', async () => {
    const list = await core.listServiceForAllNamespaces();
    listRv = list.metadata?.resourceVersion ?? '';
    // Changes landing between the list and the watch must come through the watch.
    server.apply('services', service('default', 'b', [{ port: 81 }]));
    server.apply('services', service('default', 'a', [{ port: 82 }]));
    return list;
  });
  const b = nextObject(inf, 'add', named('b'));
  const aUpdate = nextObject(inf, 'update', named('a'));
  await run(t, inf);
  await b;
  t.equal((await aUpdate).spec?.ports?.[0]?.port, 82);
  t.equal(listRv, '1001');
  const w = await requestSeen(server, (r) => r.watch);
  t.equal(w.query['resourceVersion'], listRv, 'watch asked for the list resourceVersion');
  t.equal((inf as unknown as ListWatch<V1Service>).latestResourceVersion(), server.resourceVersion(), 'makeInformer returns a ListWatch');

  // Raw wire shape: list items without kind/apiVersion, the list with them.
  const raw = await get(server, '/api/v1/services');
  t.equal(raw.status, 200);
  t.equal(raw.contentType, 'application/json');
  t.equal(raw.body.kind, 'ServiceList');
  t.equal(raw.body.apiVersion, 'v1');
  t.same(raw.body.metadata, { resourceVersion: server.resourceVersion() });
  t.equal(raw.body.items.length, 2);
  t.notOk('kind' in raw.body.items[0], 'list items carry no kind');
  t.notOk('apiVersion' in raw.body.items[0], 'list items carry no apiVersion');
  const one = await get(server, '/api/v1/namespaces/default/services/a');
  t.equal(one.body.kind, 'Service', 'single GET carries kind');
  const missing = await get(server, '/api/v1/namespaces/default/services/nope');
  t.equal(missing.status, 404);
  t.match(missing.body, { kind: 'Status', reason: 'NotFound', message: 'services "nope" not found', code: 404 });
});

t.test('watch replays history after a resourceVersion; no resourceVersion means current state as ADDED', async (t) => {
  const { server, kc } = await setup(t);
  server.apply('endpointslices', endpointSlice('default', 's1', 'web', [{ ip: '10.0.0.1' }], [{ port: 80 }]));
  const from = server.resourceVersion();
  server.apply('endpointslices', endpointSlice('default', 's2', 'web', [{ ip: '10.0.0.2' }], [{ port: 80 }]));
  server.apply('endpointslices', endpointSlice('default', 's1', 'web', [{ ip: '10.0.0.3' }], [{ port: 80 }]));
  server.remove('endpointslices', 'default', 's2');
  const { events, done } = watchOnce(kc, '/apis/discovery.k8s.io/v1/endpointslices', { resourceVersion: from }, () => events.length === 3);
  t.equal((await done)?.name, 'AbortError', 'aborting a watch reports an AbortError to done()');
  t.same(
    events.map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]),
    [
      ['ADDED', 's2', '1002'],
      ['MODIFIED', 's1', '1003'],
      ['DELETED', 's2', '1004'],
    ],
  );
  t.equal(events[0]?.object.kind, 'EndpointSlice');
  t.equal(events[0]?.object.apiVersion, 'discovery.k8s.io/v1');

  const fresh = watchOnce(kc, '/apis/discovery.k8s.io/v1/endpointslices', {}, () => fresh.events.length === 1);
  await fresh.done;

  // The deprecated /watch/ path prefix is still served; a namespace called "watch" is just a namespace.
  server.apply('endpointslices', endpointSlice('watch', 'w1', 'web', [{ ip: '10.0.0.9' }], [{ port: 80 }]));
  const legacy = watchOnce(kc, '/apis/discovery.k8s.io/v1/watch/namespaces/watch/endpointslices', {}, () => true);
  await legacy.done;
  t.same(legacy.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'w1']]);
  const listed = await get(server, '/apis/discovery.k8s.io/v1/namespaces/watch/endpointslices');
  t.equal(listed.body.kind, 'EndpointSliceList', 'a namespace named "watch" is listed, not watched');
  t.same(fresh.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 's1']]);
});

t.test('bookmarks when allowWatchBookmarks=true, and the informer follows them', async (t) => {
  const { server, kc, core } = await setup(t, { bookmarkIntervalMs: 50 });
  server.apply('services', service('default', 'a', [{ port: 80 }]));
  const rv = server.resourceVersion();
  const { events, done } = watchOnce(kc, '/api/v1/namespaces/default/services', { resourceVersion: rv, allowWatchBookmarks: true }, (type) => type === 'BOOKMARK');
  await done;
  const bm = events.find((e) => e.type === 'BOOKMARK');
  t.same(bm?.object, { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: rv } }, 'bookmark carries only type meta and resourceVersion');

  // The client's ListWatch never asks for bookmarks itself; a Watch that does shows they advance its resourceVersion.
  class BookmarkWatch extends Watch {
    override watch(p: string, q: Record<string, string | number | boolean | undefined>, cb: (phase: string, obj: any, w?: any) => void, d: (err: any) => void) {
      return super.watch(p, { ...q, allowWatchBookmarks: true }, cb, d);
    }
  }
  const inf = listWatch<V1Service>(kc, '/api/v1/namespaces/default/services', () => core.listNamespacedService({ namespace: 'default' }), {
    watch: new BookmarkWatch(kc),
  });
  await run(t, inf);
  await requestSeen(server, (r) => r.watch && r.query['allowWatchBookmarks'] === 'true');
  server.apply('services', service('elsewhere', 'b', [{ port: 80 }]));
  const target = server.resourceVersion();
  await guard(
    (async () => {
      while (inf.latestResourceVersion() !== target) await new Promise((r) => setTimeout(r, 20));
    })(),
    'bookmark to advance the informer',
  );
  t.equal(inf.latestResourceVersion(), target, 'informer resourceVersion moved past a change it never saw');

  // Streaming initial events: ADDED for current state, then the initial-events-end bookmark.
  const stream = watchOnce(
    kc,
    '/api/v1/services',
    { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true },
    (type) => type === 'BOOKMARK',
  );
  await stream.done;
  t.same(stream.events.map((e) => e.type), ['ADDED', 'ADDED', 'BOOKMARK']);
  t.same(stream.events[2]?.object.metadata.annotations, { 'k8s.io/initial-events-end': 'true' });
});

t.test('410: in-stream ERROR on a too-old watch makes the informer relist', async (t) => {
  const { server, kc, core } = await setup(t);
  server.apply('services', service('default', 'keep', [{ port: 80 }]));
  const old = server.resourceVersion();
  server.apply('services', service('default', 'x', [{ port: 80 }]));
  server.compact();

  // On the wire: HTTP 200, one ERROR event with a 410 Status, then a clean end.
  const raw = watchOnce(kc, '/api/v1/services', { resourceVersion: old });
  t.equal(await raw.done, null, 'stream ends cleanly');
  t.same(raw.events, [
    {
      type: 'ERROR',
      object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${old} (${server.resourceVersion()})`, reason: 'Expired', code: 410 },
    },
  ]);

  // Through the informer: cut the stream, change things and compact while it is away, restart it.
  server.apply('services', service('default', 'doomed', [{ port: 80 }]));
  const inf = listWatch<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  await run(t, inf);
  await requestSeen(server, (r) => r.watch);
  const staleRv = inf.latestResourceVersion();
  const err = nextError(inf);
  server.cutStreams();
  t.equal((await err).cause?.code, 'UND_ERR_SOCKET', 'a cut stream is an error, and the informer stops');
  server.remove('services', 'default', 'doomed');
  server.apply('services', service('default', 'newcomer', [{ port: 80 }]));
  server.compact();
  const since = server.requests.length;
  const deleted = nextObject(inf, 'delete', named('doomed'));
  const added = nextObject(inf, 'add', named('newcomer'));
  await inf.start(); // start() keeps the old resourceVersion: it watches, gets 410, then relists
  await deleted;
  await added;
  await requestSeen(server, (r) => r.watch, since + 1);
  const after = server.requests.slice(since);
  t.same(
    after.slice(0, 3).map((r) => [r.watch ? 'watch' : 'list', r.query['resourceVersion'] ?? '']),
    [
      ['watch', staleRv],
      ['list', ''],
      ['watch', server.resourceVersion()],
    ],
  );
  t.same(inf.list().map((o) => o.metadata?.name).sort(), ['keep', 'newcomer', 'x']);

  // sendGone: ERROR 410 on the open stream, which ends; the informer relists by itself.
  const lists = server.requests.filter((r) => !r.watch).length;
  const relisted = requestSeen(server, (r) => !r.watch, server.requests.length);
  server.sendGone();
  await relisted;
  t.equal(server.requests.filter((r) => !r.watch).length, lists + 1);
});

t.test('410 as an HTTP status on a watch also makes the informer relist', async (t) => {
  const { server, kc, core } = await setup(t, { expiredWatchAs: 'status' });
  server.apply('services', service('default', 'a', [{ port: 80 }]));
  const inf = listWatch<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  await run(t, inf);
  await requestSeen(server, (r) => r.watch);
  const err = nextError(inf);
  server.cutStreams();
  await err;
  server.remove('services', 'default', 'a');
  server.compact();
  const gone = nextObject(inf, 'delete', named('a'));
  await inf.start();
  await gone;
  const raw = await get(server, '/api/v1/services?watch=true&resourceVersion=1');
  t.equal(raw.status, 410);
  t.match(raw.body, { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
});

t.test('lists: exact resourceVersion, 410 for compacted, 504 for future, paging', async (t) => {
  const { server, core } = await setup(t);
  server.apply('services', service('default', 'a', [{ port: 80 }]));
  server.apply('services', service('default', 'b', [{ port: 80 }]));
  const two = server.resourceVersion();
  server.apply('services', service('default', 'c', [{ port: 80 }]));

  const exact = await core.listServiceForAllNamespaces({ resourceVersion: two, resourceVersionMatch: 'Exact' });
  t.same(exact.items.map((o) => o.metadata?.name), ['a', 'b'], 'state as of that version');
  t.equal(exact.metadata?.resourceVersion, two);
  const notOlder = await core.listServiceForAllNamespaces({ resourceVersion: two, resourceVersionMatch: 'NotOlderThan' });
  t.equal(notOlder.items.length, 3);
  t.equal(notOlder.metadata?.resourceVersion, server.resourceVersion());
  t.equal((await core.listServiceForAllNamespaces({ resourceVersion: '0' })).items.length, 3);

  // Paging with limit/continue over a consistent snapshot.
  const p1 = await core.listServiceForAllNamespaces({ limit: 2 });
  t.same(p1.items.map((o) => o.metadata?.name), ['a', 'b']);
  t.equal(p1.metadata?.remainingItemCount, 1);
  server.apply('services', service('default', 'd', [{ port: 80 }]));
  const p2 = await core.listServiceForAllNamespaces({ limit: 2, _continue: p1.metadata?._continue });
  t.same(p2.items.map((o) => o.metadata?.name), ['c'], 'continue reads the original snapshot');
  t.equal(p2.metadata?._continue, undefined);

  server.compact();
  const tooOld = await core.listServiceForAllNamespaces({ resourceVersion: two, resourceVersionMatch: 'Exact' }).catch((e: unknown) => e);
  t.ok(tooOld instanceof ApiException);
  t.equal((tooOld as ApiException<unknown>).code, 410);
  t.match(JSON.parse((tooOld as ApiException<string>).body), { kind: 'Status', reason: 'Expired', code: 410, message: 'The resourceVersion for the provided list is too old.' });
  const staleContinue = await core.listServiceForAllNamespaces({ limit: 2, _continue: p1.metadata?._continue }).catch((e: unknown) => e);
  t.equal((staleContinue as ApiException<unknown>).code, 410);

  const future = await get(server, '/api/v1/services?resourceVersion=999999');
  t.equal(future.status, 504);
  t.match(future.body, { reason: 'Timeout', details: { causes: [{ reason: 'ResourceVersionTooLarge' }] } });
  const bad = await get(server, '/api/v1/services?resourceVersionMatch=Exact');
  t.equal(bad.status, 422);
});

t.test('label and field selectors', async (t) => {
  const { server } = await setup(t);
  const mk = (ns: string, name: string, labels: Record<string, string>) => server.apply('services', service(ns, name, [{ port: 80 }], { labels }));
  mk('a', 's1', { app: 'web', tier: 'front' });
  mk('a', 's2', { app: 'api', tier: 'back' });
  mk('b', 's3', { app: 'web' });
  mk('b', 's4', { team: 'x', gen: '5' });
  const names = async (q: string) => {
    const r = await get(server, `/api/v1/services?${q}`);
    t.equal(r.status, 200, q);
    return (r.body.items as Array<{ metadata: { name: string } }>).map((o) => o.metadata.name);
  };
  const ls = (s: string) => `labelSelector=${encodeURIComponent(s)}`;
  t.same(await names(ls('app=web')), ['s1', 's3']);
  t.same(await names(ls('app==web,tier=front')), ['s1']);
  t.same(await names(ls('app!=web')), ['s2', 's4'], '!= matches objects without the key');
  t.same(await names(ls('tier')), ['s1', 's2']);
  t.same(await names(ls('!tier')), ['s3', 's4']);
  t.same(await names(ls('app in (api, web)')), ['s1', 's2', 's3']);
  t.same(await names(ls('app notin (web)')), ['s2', 's4']);
  t.same(await names(ls('gen>4')), ['s4']);
  t.same(await names(ls(' app = web , !tier ')), ['s3'], 'whitespace tolerated');
  t.same(await names(`fieldSelector=${encodeURIComponent('metadata.name=s2')}`), ['s2']);
  t.same(await names(`fieldSelector=${encodeURIComponent('metadata.namespace=b,metadata.name!=s3')}`), ['s4']);
  t.same(await names(`fieldSelector=metadata.namespace%3Db&${ls('app')}`), ['s3']);
  const badLabel = await get(server, `/api/v1/services?${ls('app in web')}`);
  t.equal(badLabel.status, 400);
  t.match(badLabel.body, { kind: 'Status', reason: 'BadRequest', code: 400 });
  const badField = await get(server, '/api/v1/services?fieldSelector=spec.nope%3D1');
  t.equal(badField.status, 400);
  t.match(badField.body.message, /field label not supported: spec\.nope/);
});

t.test('401 with a Status body for a wrong or missing token', async (t) => {
  const { server } = await setup(t, { token: 'right' });
  const wrong = new KubeConfig();
  wrong.loadFromString(server.kubeconfig({ token: 'wrong' }));
  const inf = makeInformer<V1Service>(wrong, '/api/v1/services', () => wrong.makeApiClient(CoreV1Api).listServiceForAllNamespaces());
  const err = nextError(inf);
  await run(t, inf);
  const e = await err;
  t.ok(e instanceof ApiException, 'list error surfaces through the error callback');
  t.equal(e.code, 401);

  const expected = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };
  const none = await get(server, '/api/v1/services', null);
  t.equal(none.status, 401);
  t.same(none.body, expected);
  const bad = await get(server, '/apis/discovery.k8s.io/v1/endpointslices?watch=true', 'Bearer wrong');
  t.equal(bad.status, 401);
  t.same(bad.body, expected);

  const anon = new KubeConfig();
  anon.loadFromString(server.kubeconfig({ token: null }));
  const w = watchOnce(anon, '/api/v1/services', {});
  const werr = await w.done;
  t.equal(werr?.statusCode, 401, 'a refused watch reports the HTTP status');
  t.equal(werr?.message, 'Unauthorized');
});

t.test('failWith(500/503) reaches the informer error callback; the informer recovers when restarted', async (t) => {
  const { server, kc, core } = await setup(t);
  server.apply('services', service('default', 'a', [{ port: 80 }]));
  server.failWith(500);
  const inf = listWatch<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  const err = nextError(inf);
  await run(t, inf);
  const e = await err;
  t.equal(e.code, 500);
  t.type(e.body, 'string', 'ApiException.body is the raw response text');
  t.match(JSON.parse(e.body), { kind: 'Status', reason: 'InternalError', code: 500 });

  server.failWith(null);
  const added = nextObject(inf, 'add', named('a'));
  await inf.start();
  await added;
  await requestSeen(server, (r) => r.watch);

  // A failing server while the watch reconnects: the re-watch gets 503.
  server.failWith(503);
  const err2 = nextError(inf);
  server.endStreams();
  const e2 = await err2;
  t.equal(e2.statusCode, 503);
  server.failWith(null);
  const b = nextObject(inf, 'add', named('b'));
  server.apply('services', service('default', 'b', [{ port: 80 }]));
  await inf.start();
  await b;

  // A slow server still answers.
  server.setDelay(30);
  const r = await core.listServiceForAllNamespaces();
  t.equal(r.items.length, 2);
  server.setDelay(0);
});

t.test('timeoutSeconds ends the watch stream cleanly', async (t) => {
  const { server, kc } = await setup(t);
  server.apply('services', service('default', 'a', [{ port: 80 }]));
  const w = watchOnce(kc, '/api/v1/services', { resourceVersion: server.resourceVersion(), timeoutSeconds: 1 });
  await requestSeen(server, (r) => r.watch);
  server.apply('services', service('default', 'b', [{ port: 80 }]));
  t.equal(await w.done, null, 'done without an error');
  t.same(w.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'b']]);
  t.equal(server.openWatches, 0);
});

t.test('stalled streams: client times out, re-watches, and catches up after unstall', async (t) => {
  const { server, kc, core } = await setup(t);
  const inf = listWatch<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces(), { requestTimeoutMs: 300 });
  const errors: unknown[] = [];
  inf.on('error', (e) => errors.push(e));
  await run(t, inf);
  await requestSeen(server, (r) => r.watch);
  server.stallStreams();
  const since = server.requests.length;
  const added = nextObject(inf, 'add', named('late'));
  server.apply('services', service('default', 'late', [{ port: 80 }]));
  // The client's inactivity timer fires and it watches again; that watch stalls too.
  await requestSeen(server, (r) => r.watch, since);
  server.unstall();
  await added;
  t.same(errors, [], 'a client-side timeout is not reported as an error');

  // A watch held before its headers by a stall is cut too.
  server.stallStreams();
  const pending = fetch(`${server.url}/api/v1/services?watch=1`, { headers: { Authorization: 'Bearer fake-token' } });
  await requestSeen(server, (r) => r.watch && r.query['watch'] === '1');
  const err = nextError(inf);
  server.cutStreams();
  await t.rejects(guard(pending, 'held watch to fail'), 'held watch request fails');
  await err;
  server.unstall();
});

t.test('stop and listen again on the same port, keeping or dropping objects', async (t) => {
  const { server, kc, core } = await setup(t);
  const url = server.url;
  server.apply('services', service('default', 'a', [{ port: 80 }]));
  const inf = listWatch<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  await run(t, inf);
  await requestSeen(server, (r) => r.watch);

  const down = nextError(inf);
  await server.stop();
  await down;
  t.equal(server.isRunning, false);
  const refused = nextError(inf);
  await inf.start();
  t.equal((await refused).cause?.code, 'ECONNREFUSED', 'nobody listening');

  await server.restart();
  t.equal(server.url, url, 'same port');
  const b = nextObject(inf, 'add', named('b'));
  server.apply('services', service('default', 'b', [{ port: 80 }]));
  const since = server.requests.length;
  await inf.start();
  await b;

  await requestSeen(server, (r) => r.watch, since);
  const down2 = nextError(inf);
  await server.restart({ keepObjects: false });
  await down2;
  t.same(server.list('services'), []);
  const goneA = nextObject(inf, 'delete', named('a'));
  const goneB = nextObject(inf, 'delete', named('b'));
  await inf.start();
  await goneA;
  await goneB;
  t.equal(inf.list().length, 0);
});

t.test('unknown paths and verbs answer with Status bodies', async (t) => {
  const { server } = await setup(t);
  for (const p of ['/api/v1/pods', '/apis/discovery.k8s.io/v1/services', '/api/v1/endpointslices', '/nope']) {
    const r = await get(server, p);
    t.equal(r.status, 404, p);
    t.same(r.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'the server could not find the requested resource',
      reason: 'NotFound',
      details: {},
      code: 404,
    });
  }
  const post = await fetch(server.url + '/api/v1/namespaces/default/services', { method: 'POST', headers: { Authorization: 'Bearer fake-token' }, body: '{}' });
  t.equal(post.status, 405);
  t.equal(((await post.json()) as { kind: string }).kind, 'Status');
  const version = await get(server, '/version');
  t.equal(version.body.major, '1');
});

t.test('faults for one path, and changes dropped before a 410 or the end of a stream', async (t) => {
  const { server, kc } = await setup(t);
  server.apply('services', service('default', 'a', [{ port: 80 }]));
  server.failWith(503, { path: /endpointslices/ });
  t.equal((await get(server, '/api/v1/services')).status, 200, 'other paths answer');
  t.equal((await get(server, '/apis/discovery.k8s.io/v1/endpointslices')).status, 503);
  server.failWith(null);
  t.equal((await get(server, '/apis/discovery.k8s.io/v1/endpointslices')).status, 200);

  // Held by a stall, then dropped: the client sees only the 410, never the deletion.
  const from = server.resourceVersion();
  const gone = watchOnce(kc, '/api/v1/services', { resourceVersion: from });
  await requestSeen(server, (r) => r.watch);
  server.stallStreams();
  server.remove('services', 'default', 'a');
  server.sendGone({ dropPending: true });
  server.unstall();
  t.equal(await gone.done, null);
  t.same(gone.events.map((e) => [e.type, e.object.code]), [['ERROR', 410]]);

  // Without dropPending the held events come first.
  server.apply('services', service('default', 'b', [{ port: 80 }]));
  const kept = watchOnce(kc, '/api/v1/services', { resourceVersion: server.resourceVersion() });
  const since = server.requests.length;
  await requestSeen(server, (r) => r.watch, since);
  server.stallStreams();
  server.remove('services', 'default', 'b');
  server.endStreams();
  server.unstall();
  await kept.done;
  t.same(kept.events.map((e) => [e.type, e.object.metadata.name]), [['DELETED', 'b']]);

  // endStreams with dropPending: a clean end that never carried the held change.
  server.apply('services', service('default', 'c', [{ port: 80 }]));
  const dropped = watchOnce(kc, '/api/v1/services', { resourceVersion: server.resourceVersion() });
  const since2 = server.requests.length;
  await requestSeen(server, (r) => r.watch, since2);
  server.stallStreams();
  server.remove('services', 'default', 'c');
  server.endStreams({ dropPending: true });
  server.unstall();
  t.equal(await dropped.done, null, 'a clean end');
  t.same(dropped.events, []);
});
