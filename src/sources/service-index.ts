/**
 * The endpoints snapshot of a cluster, kept up to date change by change. Fed
 * the changes of every Service and endpoint-object resource (in the order the
 * watches deliver them), it re-reads only the objects that changed and
 * re-resolves only the Services they belong to, so one pod's change costs one
 * Service, not the cluster.
 *
 * Whatever did not change keeps its identity: the core reuses a vhost's last
 * result while the ServiceEndpoints of each Service it names is the same
 * object, and a Service re-resolved to the same endpoints (a relist, an
 * irrelevant field) keeps its old object and arrays too.
 *
 * The snapshot equals the whole-cluster translation (servicesFromSlices /
 * servicesFromEndpoints over the resources' object lists, in order), problems
 * and their order included; only the identities differ. Pure: no I/O.
 */
import type { Endpoint, Problem, ServiceEndpoints, ServicesSnapshot } from '../core/model.ts';
import { resolveService, type EndpointContribution, type EndpointGroup, type ServiceObject } from './kubernetes-endpoints.ts';
import type { ResourceChange } from './kubernetes-watch.ts';

interface ServiceEntry {
  object: ServiceObject;
  /** What endpoints/problems were resolved from; null before the first resolution. */
  builtFrom: { readonly service: ServiceObject; readonly groups: readonly EndpointGroup[] } | null;
  endpoints: ServiceEndpoints;
  problems: readonly Problem[];
}

interface EndpointEntry {
  readonly store: number;
  /** Rises with each key first put into a store, so sorting by (store, seq) gives the listing order. */
  readonly seq: number;
  readonly contribution: EndpointContribution;
}

const NOT_RESOLVED: ServiceEndpoints = { ports: {} };

export class ServiceIndex<E> {
  private readonly contribute: (object: E) => EndpointContribution;
  /** One map per Service resource, in the resources' order; each mirrors its resource's object map. */
  private readonly services: Map<string, ServiceEntry>[];
  /** The same for the endpoint-object resources (EndpointSlices or Endpoints). */
  private readonly endpoints: Map<string, EndpointEntry>[];
  private readonly byOwner = new Map<string, Set<EndpointEntry>>();
  /** Services whose own object or whose endpoint objects changed since the last snapshot. */
  private readonly dirty = new Set<string>();
  private problemsDirty = true;
  private problems: readonly Problem[] = [];
  private last: ServicesSnapshot | null = null;
  private seq = 0;

  /**
   * @param serviceResources how many Service resources feed it (one per watched namespace)
   * @param endpointResources how many endpoint-object resources feed it
   * @param contribute reads one endpoint object (sliceContribution or endpointsContribution)
   */
  constructor(serviceResources: number, endpointResources: number, contribute: (object: E) => EndpointContribution) {
    this.contribute = contribute;
    this.services = Array.from({ length: serviceResources }, () => new Map<string, ServiceEntry>());
    this.endpoints = Array.from({ length: endpointResources }, () => new Map<string, EndpointEntry>());
  }

  /** A change to the Service resource at this position. */
  applyService(resource: number, change: ResourceChange<ServiceObject>): void {
    const store = storeAt(this.services, resource);
    this.last = null;
    switch (change.type) {
      case 'put':
        this.putService(store, change.key, change.object);
        return;
      case 'delete': {
        const entry = store.get(change.key);
        if (!entry) return;
        store.delete(change.key);
        if (entry.problems.length > 0) this.problemsDirty = true;
        return;
      }
      case 'reset': {
        const previous = new Map(store);
        store.clear();
        for (const [key, object] of change.objects) {
          // A fresh list re-resolves everything; the old results are kept only to reuse their identity.
          const old = previous.get(key);
          if (old && !store.has(key)) store.set(key, old);
          this.putService(store, key, object);
        }
        this.problemsDirty = true;
        return;
      }
    }
  }

  /** A change to the endpoint-object resource at this position. */
  applyEndpoints(resource: number, change: ResourceChange<E>): void {
    const store = storeAt(this.endpoints, resource);
    this.last = null;
    switch (change.type) {
      case 'put':
        this.putEndpoints(resource, store, change.key, change.object);
        return;
      case 'delete': {
        const entry = store.get(change.key);
        if (!entry) return;
        store.delete(change.key);
        this.detach(entry);
        return;
      }
      case 'reset': {
        for (const entry of store.values()) this.detach(entry);
        store.clear();
        for (const [key, object] of change.objects) this.putEndpoints(resource, store, key, object);
        this.problemsDirty = true;
        return;
      }
    }
  }

  /** The snapshot as of the changes applied so far; the same object while nothing changed. */
  snapshot(): ServicesSnapshot {
    if (this.last) return this.last;
    for (const ref of this.dirty) this.resolve(ref);
    this.dirty.clear();
    // A new record per snapshot (snapshots are immutable); untouched Services cost one reference copy.
    const services: Record<string, ServiceEndpoints> = {};
    for (const store of this.services) for (const [ref, entry] of store) services[ref] = entry.endpoints;
    if (this.problemsDirty) {
      this.problems = this.collectProblems();
      this.problemsDirty = false;
    }
    this.last = { services, problems: this.problems };
    return this.last;
  }

  private putService(store: Map<string, ServiceEntry>, key: string, object: ServiceObject): void {
    const entry = store.get(key);
    // Updating in place keeps the key's place in the map, as the resource's own map does.
    if (entry) entry.object = object;
    else store.set(key, { object, builtFrom: null, endpoints: NOT_RESOLVED, problems: [] });
    this.dirty.add(key);
  }

  private putEndpoints(resource: number, store: Map<string, EndpointEntry>, key: string, object: E): void {
    const old = store.get(key);
    const entry: EndpointEntry = { store: resource, seq: old?.seq ?? this.seq++, contribution: this.contribute(object) };
    store.set(key, entry);
    if (old) this.detach(old);
    this.attach(entry);
  }

  private attach(entry: EndpointEntry): void {
    const { owner, problems } = entry.contribution;
    if (problems.length > 0) this.problemsDirty = true;
    if (owner === null) return;
    const entries = this.byOwner.get(owner);
    if (entries) entries.add(entry);
    else this.byOwner.set(owner, new Set([entry]));
    this.dirty.add(owner);
  }

  private detach(entry: EndpointEntry): void {
    const { owner, problems } = entry.contribution;
    if (problems.length > 0) this.problemsDirty = true;
    if (owner === null) return;
    const entries = this.byOwner.get(owner);
    entries?.delete(entry);
    if (entries?.size === 0) this.byOwner.delete(owner);
    this.dirty.add(owner);
  }

  /** Re-resolves the Service(s) known by this ref, unless their inputs are the very objects they were built from. */
  private resolve(ref: string): void {
    const groups = this.groupsOf(ref);
    for (const store of this.services) {
      const entry = store.get(ref);
      if (!entry || sameInputs(entry, groups)) continue;
      const resolved = resolveService(entry.object, groups);
      if (entry.problems.length > 0 || resolved.problems.length > 0) this.problemsDirty = true;
      entry.endpoints = entry.builtFrom ? keepUnchanged(entry.endpoints, resolved.endpoints) : resolved.endpoints;
      entry.problems = resolved.problems;
      entry.builtFrom = { service: entry.object, groups };
    }
  }

  /** The groups of a Service's endpoint objects, in the order the resources list those objects. */
  private groupsOf(ref: string): readonly EndpointGroup[] {
    const entries = this.byOwner.get(ref);
    if (!entries) return [];
    return [...entries].sort((a, b) => a.store - b.store || a.seq - b.seq).flatMap((e) => e.contribution.groups);
  }

  /** Every endpoint object's problems in listing order, then every Service's: the whole translation's order. */
  private collectProblems(): Problem[] {
    const problems: Problem[] = [];
    for (const store of this.endpoints) for (const entry of store.values()) problems.push(...entry.contribution.problems);
    for (const store of this.services) for (const entry of store.values()) problems.push(...entry.problems);
    return problems;
  }
}

function storeAt<T>(stores: readonly T[], resource: number): T {
  const store = stores[resource];
  if (store === undefined) throw new RangeError(`no resource ${resource} (${stores.length} configured)`);
  return store;
}

function sameInputs(entry: ServiceEntry, groups: readonly EndpointGroup[]): boolean {
  const built = entry.builtFrom;
  return built !== null && built.service === entry.object && built.groups.length === groups.length && built.groups.every((g, i) => g === groups[i]);
}

/**
 * The new resolution, with every port list equal to the old one under the
 * same key replaced by the old array, and the old object itself when nothing
 * at all changed (same keys in the same order, same arrays).
 */
function keepUnchanged(old: ServiceEndpoints, next: ServiceEndpoints): ServiceEndpoints {
  const oldKeys = Object.keys(old.ports);
  const nextEntries = Object.entries(next.ports);
  let same = oldKeys.length === nextEntries.length;
  const ports: Record<string, readonly Endpoint[]> = {};
  for (const [i, [port, endpoints]] of nextEntries.entries()) {
    const previous = Object.hasOwn(old.ports, port) ? old.ports[port] : undefined;
    const kept = previous && sameEndpoints(previous, endpoints) ? previous : endpoints;
    ports[port] = kept;
    if (kept !== previous || oldKeys[i] !== port) same = false;
  }
  return same ? old : { ports };
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => e.address === b[i]?.address && e.port === b[i]?.port);
}
