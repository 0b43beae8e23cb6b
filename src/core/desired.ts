/**
 * Snapshots → desired state. Level-triggered: it reads whole snapshots and
 * never an event, so the same snapshots always give the same result. A bad
 * value disables only the vhost it belongs to, and is returned as a problem.
 */
import { decideVHost, type CurrentVHost } from './last-good.ts';
import type { Backend, DesiredState, Endpoint, EtcdSnapshot, LastGoodEntry, LastGoodInputs, LastGoodRecords, Problem, ServiceEndpoints, ServicesSnapshot, VHost, VHostSpec, VHostTls } from './model.ts';
import { vhostTls, type TlsInput } from './tls.ts';
import { parseSpec } from './spec.ts';
import { checkColour, checkHost, printable } from './validate.ts';

export interface HostKeys {
  spec?: { key: string; value: string; modRevision: number };
  active?: { key: string; value: string; modRevision: number };
}

type TlsFor = (spec: VHostSpec, source: string) => VHost['tls'];

/**
 * `lastGood`: the last good etcd values per vhost, served in place of
 * invalid current ones; `now` dates a vhost's first fall back to them.
 * `tls`: the certificates, the time to judge them at, and what served before
 * (a refused certificate keeps the last good one).
 */
export function buildDesired(etcd: EtcdSnapshot, sources: readonly ServicesSnapshot[], lastGood: LastGoodRecords = {}, now = 0, tls?: TlsInput): DesiredState {
  const problems: Problem[] = sources.flatMap((s) => s.problems);
  const services = mergeServices(sources);
  const hosts = groupByHost(etcd, problems);
  const vhosts: VHost[] = [];
  const remembered: Record<string, LastGoodEntry> = {};
  const previous = previousTls(tls);
  for (const [host, keys] of hosts) {
    const stored = Object.hasOwn(lastGood, host) ? lastGood[host] : undefined;
    const result = hostResult({ host, keys, prefix: etcd.prefix, services, stored, now, tls, previousTls: () => previous.get(host) ?? null });
    problems.push(...result.problems);
    if (result.vhost) vhosts.push(result.vhost);
    if (result.entry) remembered[host] = result.entry;
  }
  return { revision: etcd.revision, vhosts, problems: problems.sort(compareProblems), lastGood: remembered };
}

/** Where a vhost finds the endpoints of the services it names. */
export interface ServiceLookup {
  get(ref: string): ServiceEndpoints | undefined;
}

/** Everything one vhost is made from. */
export interface HostInputs {
  readonly host: string;
  readonly keys: HostKeys;
  readonly prefix: string;
  readonly services: ServiceLookup;
  readonly stored: LastGoodEntry | undefined;
  readonly now: number;
  readonly tls: TlsInput | undefined;
  /** The certificate that served before; asked only for vhosts served over HTTPS. */
  readonly previousTls: () => VHostTls | null;
}

/** What one vhost's inputs give, and which of the shared inputs it read (to tell when it must be made again). */
export interface HostResult {
  readonly vhost: VHost | null;
  readonly entry: LastGoodEntry | null;
  readonly problems: readonly Problem[];
  /** Each service looked up, with what was found. */
  readonly services: ReadonlyArray<readonly [string, ServiceEndpoints | undefined]>;
  /** A certificate was judged: the result depends on the certificates and the time. */
  readonly readTls: boolean;
  /** The first fall back to the last good version is dated now. */
  readonly readNow: boolean;
}

/** One vhost from its own etcd keys, the services it names, and its last good version. */
export function hostResult(inputs: HostInputs): HostResult {
  const { host, keys, prefix, stored, now } = inputs;
  const problems: Problem[] = [];
  const used: Array<readonly [string, ServiceEndpoints | undefined]> = [];
  const services: ServiceLookup = { get: (ref) => { const found = inputs.services.get(ref); used.push([ref, found]); return found; } };
  let readTls = false;
  // Certificate problems belong to the version that serves, current or last good.
  const tlsFor: TlsFor = (spec, source) => {
    readTls ||= spec.tls !== undefined;
    return vhostTls(host, spec, source, inputs.tls, spec.tls ? inputs.previousTls() : null, problems);
  };
  const current = currentVHost(host, keys, prefix, services, problems, tlsFor);
  const rebuild = (values: LastGoodInputs): VHost | Problem[] => rebuildVHost(host, values, prefix, services, tlsFor);
  const decision = decideVHost(current, stored, rebuild, now);
  problems.push(...decision.problems);
  return { vhost: decision.vhost, entry: decision.entry, problems, services: used, readTls, readNow: decision.mark !== null && stored?.since == null };
}

export function previousTls(tls: TlsInput | undefined): ReadonlyMap<string, VHostTls | null> {
  return new Map((tls?.previous?.vhosts ?? []).map((v) => [v.host, v.tls ?? null]));
}

/** The current etcd values of a vhost, validated; problems of a valid vhost (unresolved services) go to `problems`. */
function currentVHost(host: string, keys: HostKeys, prefix: string, services: ServiceLookup, problems: Problem[], tlsFor: TlsFor): CurrentVHost {
  const own: Problem[] = [];
  const vhost = buildVHost(host, keys, prefix, services, own, tlsFor);
  if (!vhost) {
    problems.push(...own);
    return keys.spec ? { kind: 'invalid', problems: own } : { kind: 'deleted' };
  }
  problems.push(...own);
  const inputs = { spec: keys.spec?.value ?? '', active: keys.active?.value ?? null, revision: vhost.revision };
  return { kind: 'valid', vhost, inputs };
}

/** Stored values through the same validation as fresh ones; the problems of a served version are those of the current one. */
function rebuildVHost(host: string, inputs: LastGoodInputs, prefix: string, services: ServiceLookup, tlsFor: TlsFor): VHost | Problem[] {
  const keys: HostKeys = {
    spec: { key: `vhosts/${host}/spec`, value: inputs.spec, modRevision: inputs.revision },
    ...(inputs.active === null ? {} : { active: { key: `vhosts/${host}/active`, value: inputs.active, modRevision: inputs.revision } }),
  };
  const problems: Problem[] = [];
  const vhost = buildVHost(host, keys, prefix, services, problems, tlsFor);
  return vhost ? { ...vhost, revision: inputs.revision } : problems;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Problems in a stable order, so equal snapshots give equal results. */
export function compareProblems(a: Problem, b: Problem): number {
  return compareText(a.source, b.source) || compareText(a.code, b.code) || compareText(a.message, b.message);
}

export function backendName(host: string, colour: string): string {
  return `be_${host.replace('*', '_')}_${colour}`;
}

export function groupByHost(etcd: EtcdSnapshot, problems: Problem[]): Map<string, HostKeys> {
  const hosts = new Map<string, HostKeys>();
  // Keys already in lower case first, then by name: when two keys differ only in case, the same one wins.
  const keys = Object.keys(etcd.entries).sort((a, b) => Number(a !== a.toLowerCase()) - Number(b !== b.toLowerCase()) || compareText(a, b));
  for (const key of keys) {
    const entry = etcd.entries[key];
    if (!entry) continue;
    const m = /^vhosts\/([^/]*)\/(spec|active)$/.exec(key);
    if (!m) continue;
    const host = (m[1] ?? '').toLowerCase();
    const hostProblem = checkHost(host);
    if (hostProblem) {
      problems.push({ code: 'HOST_INVALID', source: `etcd key ${etcd.prefix}${key}`, message: hostProblem });
      continue;
    }
    const keys = hosts.get(host) ?? {};
    const leaf = m[2] === 'spec' ? 'spec' : 'active';
    if (keys[leaf]) {
      problems.push({ code: 'HOST_INVALID', host, source: `etcd key ${etcd.prefix}${key}`, message: `duplicates ${etcd.prefix}${keys[leaf].key} once lower-cased; ignored` });
      continue;
    }
    keys[leaf] = { key, value: entry.value, modRevision: entry.modRevision };
    hosts.set(host, keys);
  }
  // By host: the order vhosts are served, rendered and compared in.
  return new Map([...hosts].sort(([a], [b]) => compareText(a, b)));
}

function buildVHost(
  host: string,
  keys: HostKeys,
  prefix: string,
  services: ServiceLookup,
  problems: Problem[],
  tlsFor: TlsFor,
): VHost | null {
  if (!keys.spec) {
    problems.push({ code: 'SPEC_INVALID', host, source: `etcd key ${prefix}vhosts/${host}/spec`, message: 'missing (an active key alone does not make a vhost)' });
    return null;
  }
  const spec = parseSpec(keys.spec.value);
  if (typeof spec === 'string') {
    problems.push({ code: 'SPEC_INVALID', host, source: `etcd key ${prefix}${keys.spec.key}`, message: spec });
    return null;
  }
  const active = activeColour(spec, keys, prefix, host, problems);
  if (active === null) return null;
  const backends = Object.entries(spec.backends).map(([colour, ref]) =>
    buildBackend(host, colour, ref, spec, services, prefix, problems),
  );
  const revision = Math.max(keys.spec.modRevision, keys.active?.modRevision ?? 0);
  const tls = tlsFor(spec, `etcd key ${prefix}${keys.spec.key}`);
  return tls === undefined ? { host, active, backends, revision } : { host, active, backends, revision, tls };
}

function activeColour(spec: VHostSpec, keys: HostKeys, prefix: string, host: string, problems: Problem[]): string | null {
  if (!keys.active) return spec.default;
  const value = keys.active.value.trim();
  const problem = checkColour(value) ?? (Object.hasOwn(spec.backends, value) ? null : `"${printable(value)}" is not a colour of this vhost (${Object.keys(spec.backends).join(', ')})`);
  if (!problem) return value;
  problems.push({ code: 'ACTIVE_INVALID', host, source: `etcd key ${prefix}${keys.active.key}`, message: problem });
  return null;
}

function buildBackend(
  host: string,
  colour: string,
  ref: { service: string; port: string },
  spec: VHostSpec,
  services: ServiceLookup,
  prefix: string,
  problems: Problem[],
): Backend {
  const servers = resolveServers(ref, services);
  if (typeof servers === 'string') {
    problems.push({ code: 'SERVICE_UNRESOLVED', host, source: `etcd key ${prefix}vhosts/${host}/spec (backends.${colour})`, message: servers });
  }
  return {
    name: backendName(host, colour),
    host,
    colour,
    service: ref.service,
    port: ref.port,
    balance: spec.balance,
    healthPath: spec.health.path,
    minReady: spec.health.minReady,
    servers: typeof servers === 'string' ? [] : servers,
  };
}

function resolveServers(ref: { service: string; port: string }, services: ServiceLookup): readonly Endpoint[] | string {
  const service = services.get(ref.service);
  if (!service) return `service ${ref.service} is not known to any endpoint source`;
  const endpoints = Object.hasOwn(service.ports, ref.port) ? service.ports[ref.port] : undefined;
  if (!endpoints) {
    const known = Object.keys(service.ports).sort().join(', ') || 'none';
    return `service ${ref.service} has no port "${ref.port}" (ports: ${known})`;
  }
  return endpoints;
}

/** Merges endpoint sources; a Service known to several gets the union of their endpoints. */
export function mergeServices(sources: readonly ServicesSnapshot[]): Map<string, ServiceEndpoints> {
  const parts = new Map<string, ServiceEndpoints[]>();
  for (const source of sources) {
    for (const [ref, service] of Object.entries(source.services)) parts.set(ref, [...(parts.get(ref) ?? []), service]);
  }
  return new Map([...parts].map(([ref, known]) => [ref, mergeService(known)]));
}

/** One Service as several sources know it: each port's endpoints united, deduplicated and ordered. */
export function mergeService(known: readonly ServiceEndpoints[]): ServiceEndpoints {
  // The usual case: one source, which already keeps its endpoints in order (the Kubernetes source does).
  const only = known.length === 1 ? known[0] : undefined;
  if (only && Object.values(only.ports).every(isSorted)) return only;
  const ports = new Map<string, Endpoint[]>();
  for (const service of known) {
    for (const [port, endpoints] of Object.entries(service.ports)) ports.set(port, [...(ports.get(port) ?? []), ...endpoints]);
  }
  // No prototype: a port may be called "constructor".
  const clean: Record<string, readonly Endpoint[]> = Object.create(null) as Record<string, readonly Endpoint[]>;
  for (const [port, endpoints] of ports) clean[port] = sortEndpoints(endpoints);
  return { ports: clean };
}

/** Deduplicates and orders endpoints so that equal sets render identically whatever order they arrived in. */
export function sortEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  const byKey = new Map<string, Endpoint>();
  for (const e of endpoints) {
    const address = e.address.toLowerCase();
    byKey.set(`${address}|${e.port}`, { address, port: e.port });
  }
  return [...byKey.values()].sort((a, b) => compareEndpoints(a, b));
}

/** In the order sortEndpoints gives, without duplicates, addresses in lower case. */
function isSorted(endpoints: readonly Endpoint[]): boolean {
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i];
    const before = endpoints[i - 1];
    if (!e || e.address !== e.address.toLowerCase() || (before && compareEndpoints(before, e) >= 0)) return false;
  }
  return true;
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  return a.port - b.port;
}
