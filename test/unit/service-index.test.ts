// ServiceIndex against the whole-cluster translation, on random histories of
// Services and EndpointSlices (or Endpoints): after every change the index's
// snapshot must be the translation of the objects as listed then, byte for
// byte, and every Service whose endpoints did not change must keep its object.
//
// The same histories are also fed as the Kubernetes source feeds them: each
// object reduced to the record kept of it (kubernetes-records.ts), which must
// translate exactly like the full object.
//
// Each run is seeded; a failing run names its seed. To replay one:
//   SERVICE_INDEX_SEED=<seed> npx tap test/unit/service-index.test.ts
import t from 'tap';
import type { Test } from 'tap';
import type { ServicesSnapshot } from '../../src/core/model.ts';
import {
  endpointsContribution,
  servicesFromEndpoints,
  servicesFromSlices,
  sliceContribution,
  type EndpointContribution,
  type EndpointSliceObject,
  type EndpointsObject,
  type ServiceObject,
} from '../../src/sources/kubernetes-endpoints.ts';
import { endpointsRecord, serviceRecord, sliceRecord, type EndpointRecord } from '../../src/sources/kubernetes-records.ts';
import type { ResourceChange } from '../../src/sources/kubernetes-watch.ts';
import { ServiceIndex } from '../../src/sources/service-index.ts';
import { Gen } from '../helpers/random.ts';

const STEPS = 1500;
/** One resource per namespace, as with kubernetes.namespaces set. */
const NAMESPACES = ['blue', 'green'];
const SERVICE_NAMES = ['web', 'api', 'admin', 'dns', 'plain'];
const OBJECT_NAMES = ['a', 'b', 'c', 'd'];
const PORT_NAMES = ['http', 'metrics', ''];
const ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.10', 'fd00::1', 'FD00::1', 'fd00::a', 'not-an-ip'];

type Mode = 'slices' | 'endpoints';

function serviceObject(g: Gen, namespace: string, name: string): ServiceObject {
  if (g.chance(0.03)) return { metadata: { namespace, name } };
  const ports = g.some(PORT_NAMES, 3).map((portName, i) => ({
    ...(portName === '' && g.chance(0.5) ? {} : { name: portName }),
    port: g.chance(0.05) ? 70000 : 80 + i,
    protocol: g.chance(0.1) ? 'UDP' : 'TCP',
  }));
  return { metadata: { namespace, name }, spec: { ports } };
}

function endpointPorts(g: Gen): { name?: string; port: number; protocol: string }[] {
  return g.some(PORT_NAMES, 3).map((portName) => ({
    ...(portName === '' && g.chance(0.5) ? {} : { name: portName }),
    port: g.chance(0.05) ? 0 : g.pick([8080, 8081, 9100]),
    protocol: g.chance(0.05) ? 'UDP' : 'TCP',
  }));
}

function sliceObject(g: Gen, namespace: string, name: string): EndpointSliceObject {
  const owner = g.pick(SERVICE_NAMES);
  const labels: Record<string, string> = g.chance(0.05) ? {} : { 'kubernetes.io/service-name': owner };
  const addressType = g.chance(0.05) ? 'FQDN' : g.chance(0.3) ? 'IPv6' : 'IPv4';
  const endpoints = g.some(ADDRESSES, 5).map((ip) => ({
    addresses: [ip],
    conditions: g.chance(0.2) ? null : { ready: g.pick([true, false, null]), terminating: g.pick([true, false, null]) },
  }));
  return { metadata: { namespace, name: `${owner}-${name}`, labels }, addressType, endpoints, ports: endpointPorts(g) };
}

function endpointsObject(g: Gen, namespace: string): EndpointsObject {
  const subsets = Array.from({ length: g.int(3) }, () => ({ addresses: g.some(ADDRESSES, 4).map((ip) => ({ ip })), ports: endpointPorts(g) }));
  return { metadata: { namespace, name: g.pick(SERVICE_NAMES) }, subsets };
}

const keyOf = (o: { readonly metadata?: { readonly namespace?: string; readonly name?: string } }): string =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** A resource's object map, changed exactly as WatchedResource changes its own. */
class Store<T> {
  objects = new Map<string, T>();
  apply(change: ResourceChange<T>): boolean {
    if (change.type === 'put') this.objects.set(change.key, change.object);
    else if (change.type === 'delete') return this.objects.delete(change.key);
    else this.objects = new Map(change.objects);
    return true;
  }
}

interface Step {
  readonly what: string;
  readonly kind: 'services' | 'endpoints';
  readonly resource: number;
  readonly change: ResourceChange<ServiceObject> | ResourceChange<EndpointSliceObject | EndpointsObject>;
  /** Services whose inputs the step touches (null: any, a relist). */
  readonly touches: readonly string[] | null;
}

class History {
  readonly services = NAMESPACES.map(() => new Store<ServiceObject>());
  readonly endpoints = NAMESPACES.map(() => new Store<EndpointSliceObject | EndpointsObject>());
  readonly g: Gen;
  readonly mode: Mode;

  constructor(g: Gen, mode: Mode) {
    this.g = g;
    this.mode = mode;
  }

  translate(): ServicesSnapshot {
    const services = this.services.flatMap((s) => [...s.objects.values()]);
    const endpoints = this.endpoints.flatMap((s) => [...s.objects.values()]);
    return this.mode === 'slices' ? servicesFromSlices(services, endpoints as EndpointSliceObject[]) : servicesFromEndpoints(services, endpoints as EndpointsObject[]);
  }

  step(): Step {
    const g = this.g;
    const resource = g.int(NAMESPACES.length);
    const namespace = NAMESPACES[resource] as string;
    const roll = g.next();
    if (roll < 0.02) return this.relist(resource, namespace, roll < 0.01 ? 'services' : 'endpoints');
    if (roll < 0.3) {
      const existing = [...this.services[resource]!.objects.keys()];
      if (g.chance(0.3) && existing.length > 0) {
        const key = g.pick(existing);
        return { what: `delete Service ${key}`, kind: 'services', resource, change: { type: 'delete', key }, touches: [key] };
      }
      const object = serviceObject(g, namespace, g.pick(SERVICE_NAMES));
      const key = keyOf(object);
      return { what: `put Service ${key} ${JSON.stringify(object.spec)}`, kind: 'services', resource, change: { type: 'put', key, object }, touches: [key] };
    }
    const store = this.endpoints[resource]!;
    const existing = [...store.objects.keys()];
    if (g.chance(0.25) && existing.length > 0) {
      const key = g.pick(existing);
      return { what: `delete ${key}`, kind: 'endpoints', resource, change: { type: 'delete', key }, touches: this.owners(store.objects.get(key)) };
    }
    if (g.chance(0.05) && existing.length > 0) {
      // The same object again (a resync): nothing changes.
      const key = g.pick(existing);
      const object = store.objects.get(key)!;
      return { what: `put ${key} again`, kind: 'endpoints', resource, change: { type: 'put', key, object }, touches: [] };
    }
    const object = this.mode === 'slices' ? sliceObject(g, namespace, g.pick(OBJECT_NAMES)) : endpointsObject(g, namespace);
    const key = keyOf(object);
    const touches = [...this.owners(store.objects.get(key)), ...this.owners(object)];
    return { what: `put ${key} ${JSON.stringify(object)}`, kind: 'endpoints', resource, change: { type: 'put', key, object }, touches };
  }

  apply(step: Step): void {
    if (step.kind === 'services') this.services[step.resource]!.apply(step.change as ResourceChange<ServiceObject>);
    else this.endpoints[step.resource]!.apply(step.change as ResourceChange<EndpointSliceObject | EndpointsObject>);
  }

  /** A fresh list: some objects as they were (same objects), some changed, some gone, some new, in a new order. */
  private relist(resource: number, namespace: string, kind: 'services' | 'endpoints'): Step {
    const g = this.g;
    const store = kind === 'services' ? this.services[resource]! : this.endpoints[resource]!;
    const kept = [...store.objects].filter(() => g.chance(0.8));
    const fresh = Array.from({ length: g.int(3) }, () => {
      const object =
        kind === 'services' ? serviceObject(g, namespace, g.pick(SERVICE_NAMES)) : this.mode === 'slices' ? sliceObject(g, namespace, g.pick(OBJECT_NAMES)) : endpointsObject(g, namespace);
      return [keyOf(object), object] as [string, ServiceObject | EndpointSliceObject | EndpointsObject];
    });
    const objects = [...kept, ...fresh].sort(() => g.next() - 0.5);
    const change = { type: 'reset', objects } as Step['change'];
    return { what: `relist ${kind} in ${namespace} (${objects.length} objects)`, kind, resource, change, touches: null };
  }

  private owners(object: EndpointSliceObject | EndpointsObject | undefined): string[] {
    if (!object) return [];
    const c = this.mode === 'slices' ? sliceContribution(object as EndpointSliceObject) : endpointsContribution(object as EndpointsObject);
    return c.owner === null ? [] : [c.owner];
  }
}

function feed(index: ServiceIndex<EndpointSliceObject | EndpointsObject>, step: Step): void {
  if (step.kind === 'services') index.applyService(step.resource, step.change as ResourceChange<ServiceObject>);
  else index.applyEndpoints(step.resource, step.change as ResourceChange<EndpointSliceObject | EndpointsObject>);
}

/** The first way the index's snapshot breaks the rules after a step, or null. */
function violation(before: ServicesSnapshot, after: ServicesSnapshot, expected: ServicesSnapshot, touches: readonly string[] | null): string | null {
  // JSON keeps key order: the same Services, ports, endpoints and problems, in the same order.
  const got = JSON.stringify(after);
  const want = JSON.stringify(expected);
  if (got !== want) return `snapshot differs from the whole translation:\n  got  ${got}\n  want ${want}`;
  for (const [ref, now] of Object.entries(after.services)) {
    const then = before.services[ref];
    if (!then) continue;
    if (touches !== null && !touches.includes(ref) && now !== then) return `${ref} was not touched but is a new object`;
    if (JSON.stringify(now) === JSON.stringify(then) && now !== then) return `${ref} did not change but is a new object`;
    for (const [port, endpoints] of Object.entries(now.ports)) {
      const old = then.ports[port];
      if (old && old !== endpoints && JSON.stringify(old) === JSON.stringify(endpoints)) return `${ref} port ${port} did not change but is a new array`;
    }
  }
  return null;
}

function contribution(mode: Mode): (o: EndpointSliceObject | EndpointsObject) => EndpointContribution {
  return mode === 'slices' ? (o) => sliceContribution(o as EndpointSliceObject) : (o) => endpointsContribution(o as EndpointsObject);
}

/** The index fed objects, or fed the records the Kubernetes source keeps instead (one record per object, as a watch hands on one). */
function indexFor(mode: Mode, fed: 'objects' | 'records'): { feed(step: Step): void; snapshot(): ServicesSnapshot } {
  if (fed === 'objects') {
    const index = new ServiceIndex(NAMESPACES.length, NAMESPACES.length, contribution(mode));
    return { feed: (step) => feed(index, step), snapshot: () => index.snapshot() };
  }
  const index = new ServiceIndex<EndpointRecord>(NAMESPACES.length, NAMESPACES.length, (r) => r.contribution);
  const records = new WeakMap<object, object>();
  const toRecord = <T extends object>(o: object, make: (o: never) => T): T => {
    if (!records.has(o)) records.set(o, make(o as never));
    return records.get(o) as T;
  };
  const reduce = <O extends object, R extends object>(change: ResourceChange<O>, make: (o: never) => R): ResourceChange<R> =>
    change.type === 'put'
      ? { ...change, object: toRecord(change.object, make) }
      : change.type === 'reset'
        ? { type: 'reset', objects: change.objects.map(([k, o]) => [k, toRecord(o, make)] as const) }
        : change;
  return {
    feed: (step) => {
      if (step.kind === 'services') index.applyService(step.resource, reduce(step.change as ResourceChange<ServiceObject>, serviceRecord));
      else index.applyEndpoints(step.resource, reduce(step.change as ResourceChange<object>, mode === 'slices' ? sliceRecord : endpointsRecord));
    },
    snapshot: () => index.snapshot(),
  };
}

function run(t: Test, seed: number, mode: Mode, fed: 'objects' | 'records'): void {
  const g = new Gen(seed);
  const history = new History(g, mode);
  const index = indexFor(mode, fed);
  let before = index.snapshot();
  t.same(before, { services: {}, problems: [] }, 'empty before any change');
  let problems = 0;
  for (let i = 0; i < STEPS; i++) {
    const step = history.step();
    history.apply(step);
    index.feed(step);
    const after = index.snapshot();
    const broken = violation(before, after, history.translate(), step.touches);
    if (broken) {
      t.fail(`step ${i}: ${step.what}: ${broken}`);
      return;
    }
    if (index.snapshot() !== after) {
      t.fail(`step ${i}: a second snapshot without changes is a new object`);
      return;
    }
    problems += after.problems.length;
    before = after;
  }
  t.pass(`${STEPS} steps, each equal to the whole translation, unchanged Services kept`);
  t.ok(Object.keys(before.services).length > 0 && problems > 0, 'the history had Services and problems in it');
}

const replay = process.env['SERVICE_INDEX_SEED'];
const seeds = replay !== undefined ? [Number(replay)] : [1, 2, 3, Date.now() % 1_000_000];
for (const seed of seeds) {
  for (const mode of ['slices', 'endpoints'] as const) {
    for (const fed of ['objects', 'records'] as const) t.test(`random history, ${mode} fed as ${fed}, seed ${seed}`, async (t) => run(t, seed, mode, fed));
  }
}

t.test('one pod change re-resolves one Service; every other keeps its object and arrays', async (t) => {
  const index = new ServiceIndex(1, 1, contribution('slices'));
  const services = Array.from({ length: 50 }, (_, i): ServiceObject => ({ metadata: { namespace: 'shop', name: `s${i}` }, spec: { ports: [{ name: 'http', port: 80 }] } }));
  const slice = (i: number, ips: readonly string[]): EndpointSliceObject => ({
    metadata: { namespace: 'shop', name: `s${i}-a`, labels: { 'kubernetes.io/service-name': `s${i}` } },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080 }],
  });
  for (const s of services) index.applyService(0, { type: 'put', key: keyOf(s), object: s });
  for (let i = 0; i < 50; i++) index.applyEndpoints(0, { type: 'put', key: `shop/s${i}-a`, object: slice(i, ['10.0.0.1', '10.0.0.2']) });
  const before = index.snapshot();
  index.applyEndpoints(0, { type: 'put', key: 'shop/s7-a', object: slice(7, ['10.0.0.1', '10.0.0.3']) });
  const after = index.snapshot();
  t.not(after, before, 'a new snapshot');
  t.not(after.services['shop/s7'], before.services['shop/s7'], 'the changed Service is new');
  t.same(after.services['shop/s7']?.ports['http'], [
    { address: '10.0.0.1', port: 8080 },
    { address: '10.0.0.3', port: 8080 },
  ]);
  const kept = Object.keys(after.services).filter((ref) => after.services[ref] === before.services[ref]);
  t.equal(kept.length, 49, 'the 49 others are the same objects');
  t.equal(after.problems, before.problems, 'no problem before or after: the same problems array');

  // A relist brings every object anew; what did not change keeps its identity anyway.
  index.applyEndpoints(0, { type: 'reset', objects: Array.from({ length: 50 }, (_, i) => [`shop/s${i}-a`, slice(i, ['10.0.0.2', '10.0.0.1'])] as const) });
  const relisted = index.snapshot();
  t.equal(relisted.services['shop/s0'], after.services['shop/s0'], 'unchanged by the relist: same object');
  t.not(relisted.services['shop/s7'], after.services['shop/s7'], 's7 went back to its old pods: changed');
  t.same(relisted, servicesFromSlices(services, Array.from({ length: 50 }, (_, i) => slice(i, ['10.0.0.2', '10.0.0.1']))));
});
