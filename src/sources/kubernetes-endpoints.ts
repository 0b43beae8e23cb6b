/**
 * Kubernetes objects → the endpoints snapshot the core reads. Pure. Each
 * endpoint object is read on its own (its contribution), then each Service is
 * resolved against the contributions that name it; the Kubernetes source does
 * both per changed object through ServiceIndex, and servicesFromSlices /
 * servicesFromEndpoints do them for a whole cluster at once.
 *
 * The shapes below are what we read, not what the API promises: list items
 * arrive typed, watch objects as raw JSON, and either may be malformed, so
 * every value that can reach haproxy.cfg (addresses, ports) is checked here.
 */
import type { Endpoint, Problem, ServiceEndpoints, ServicesSnapshot } from '../core/model.ts';
import { sortEndpoints } from '../core/desired.ts';
import { checkPortNumber, isIPv4, isIPv6, printable } from '../core/validate.ts';

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

interface Meta {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>> | null;
}

interface PortObject {
  readonly name?: string | null;
  readonly port?: number | null;
  readonly protocol?: string | null;
}

export interface ServiceObject {
  readonly metadata?: Meta;
  readonly spec?: { readonly ports?: readonly PortObject[] | null } | null;
}

export interface EndpointSliceObject {
  readonly metadata?: Meta;
  readonly addressType?: string;
  readonly endpoints?:
    | readonly {
        readonly addresses?: readonly string[] | null;
        readonly conditions?: { readonly ready?: boolean | null; readonly terminating?: boolean | null } | null;
      }[]
    | null;
  readonly ports?: readonly PortObject[] | null;
}

export interface EndpointsObject {
  readonly metadata?: Meta;
  readonly subsets?:
    | readonly {
        readonly addresses?: readonly { readonly ip?: string }[] | null;
        readonly ports?: readonly PortObject[] | null;
      }[]
    | null;
}

/**
 * Ready addresses that share one set of ports: an EndpointSlice, or one
 * subset of an Endpoints object. The target port of a Service port is looked
 * up per group, because pods behind one Service can expose a named port on
 * different numbers.
 */
export interface EndpointGroup {
  /** "EndpointSlice shop/web-abc", for problems. */
  readonly origin: string;
  readonly ports: readonly PortObject[];
  readonly addresses: readonly string[];
}

/**
 * What one EndpointSlice or Endpoints object brings, read on its own: the
 * Service it belongs to ("namespace/name", null for none), its groups, and
 * what was wrong with it. Nothing here depends on other objects, so it is
 * read once per object version.
 */
export interface EndpointContribution {
  readonly owner: string | null;
  readonly groups: readonly EndpointGroup[];
  readonly problems: readonly Problem[];
}

/** One Service resolved against the groups of its endpoint objects. */
export interface ResolvedService {
  readonly endpoints: ServiceEndpoints;
  readonly problems: readonly Problem[];
}

/** Services and their EndpointSlices (discovery.k8s.io/v1), all slices of a Service merged. */
export function servicesFromSlices(services: readonly ServiceObject[], slices: readonly EndpointSliceObject[]): ServicesSnapshot {
  return resolveAll(services, slices.map(sliceContribution));
}

/** Services and their core/v1 Endpoints (same name as the Service), for clusters without EndpointSlices. */
export function servicesFromEndpoints(services: readonly ServiceObject[], endpoints: readonly EndpointsObject[]): ServicesSnapshot {
  return resolveAll(services, endpoints.map(endpointsContribution));
}

/** A slice belongs to the Service its label names; a slice without that label belongs to none and is not read. */
export function sliceContribution(slice: EndpointSliceObject): EndpointContribution {
  const owner = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (typeof owner !== 'string') return { owner: null, groups: [], problems: [] };
  const problems: Problem[] = [];
  const group = sliceGroup(slice, problems);
  return { owner: `${slice.metadata?.namespace ?? ''}/${owner}`, groups: group ? [group] : [], problems };
}

/** An Endpoints object belongs to the Service of the same name; each subset is a group. */
export function endpointsContribution(object: EndpointsObject): EndpointContribution {
  const ref = refOf(object.metadata);
  const problems: Problem[] = [];
  const groups: EndpointGroup[] = [];
  for (const [i, subset] of list(object.subsets).entries()) {
    const origin = `Kubernetes Endpoints ${ref} subsets[${i}]`;
    const addresses: string[] = [];
    for (const [j, a] of list(subset.addresses).entries()) {
      const address = checkedAddress(a.ip, 'any', `${origin}.addresses[${j}]`, problems);
      if (address) addresses.push(address);
    }
    groups.push({ origin, ports: list(subset.ports), addresses });
  }
  return { owner: ref, groups, problems };
}

/** One Service against the groups of its endpoint objects, in the order those objects are listed. */
export function resolveService(service: ServiceObject, groups: readonly EndpointGroup[]): ResolvedService {
  const problems: Problem[] = [];
  const ports = resolvePorts(refOf(service.metadata), list(service.spec?.ports), groups, problems);
  return { endpoints: { ports }, problems };
}

/** "namespace/name" of a Service, or of the object a watch keys it by. */
export function refOf(meta: Meta | undefined): string {
  return `${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
}

function sliceGroup(slice: EndpointSliceObject, problems: Problem[]): EndpointGroup | null {
  const origin = `Kubernetes EndpointSlice ${refOf(slice.metadata)}`;
  const family = slice.addressType === 'IPv4' ? 'IPv4' : slice.addressType === 'IPv6' ? 'IPv6' : null;
  const ready = list(slice.endpoints).map((e, i) => ({ e, i })).filter(({ e }) => isReady(e.conditions));
  if (!family) {
    if (ready.length > 0) {
      problems.push({ code: 'ENDPOINT_INVALID', source: origin, message: `addressType "${printable(String(slice.addressType))}" is not supported (only IPv4 and IPv6); its endpoints are left out` });
    }
    return null;
  }
  const addresses: string[] = [];
  for (const { e, i } of ready) {
    // The addresses of one endpoint are one pod's, and fungible: the first is enough.
    const address = checkedAddress(list(e.addresses)[0], family, `${origin} endpoints[${i}]`, problems);
    if (address) addresses.push(address);
  }
  return { origin, ports: list(slice.ports), addresses };
}

/** Ready means ready and not terminating; the API says a missing `ready` counts as true. */
function isReady(conditions: { readonly ready?: boolean | null; readonly terminating?: boolean | null } | null | undefined): boolean {
  return conditions?.ready !== false && conditions?.terminating !== true;
}

function checkedAddress(value: unknown, family: 'IPv4' | 'IPv6' | 'any', where: string, problems: Problem[]): string | null {
  const ok = typeof value === 'string' && (family === 'IPv4' ? isIPv4(value) : family === 'IPv6' ? isIPv6(value) : isIPv4(value) || isIPv6(value));
  if (ok) return value;
  const kind = family === 'any' ? 'an IPv4 or IPv6 address' : `an ${family} address`;
  problems.push({ code: 'ENDPOINT_INVALID', source: where, message: `"${printable(String(value))}" is not ${kind}; left out` });
  return null;
}

/** The whole translation at once: every object's problems in listing order, then every Service's. */
function resolveAll(services: readonly ServiceObject[], contributions: readonly EndpointContribution[]): ServicesSnapshot {
  const problems: Problem[] = [];
  const groups = new Map<string, EndpointGroup[]>();
  for (const c of contributions) {
    problems.push(...c.problems);
    if (c.owner !== null) for (const group of c.groups) push(groups, c.owner, group);
  }
  const out: Record<string, ServiceEndpoints> = {};
  for (const service of services) {
    const ref = refOf(service.metadata);
    const resolved = resolveService(service, groups.get(ref) ?? []);
    out[ref] = resolved.endpoints;
    problems.push(...resolved.problems);
  }
  return { services: out, problems };
}

/**
 * Each TCP port of the Service, keyed by its name and by its number, maps to
 * the ready addresses at the target port their group lists under the same
 * name. A port no group with ready addresses can resolve is left out (and
 * reported), so a vhost naming it is reported rather than sent to a wrong port.
 */
function resolvePorts(ref: string, ports: readonly PortObject[], groups: readonly EndpointGroup[], problems: Problem[]): Record<string, readonly Endpoint[]> {
  const out: Record<string, readonly Endpoint[]> = {};
  for (const port of ports) {
    if ((port.protocol ?? 'TCP') !== 'TCP') continue;
    const name = port.name ?? '';
    const endpoints: Endpoint[] = [];
    let unresolved = 0;
    for (const group of groups) {
      if (group.addresses.length === 0) continue;
      const target = group.ports.find((p) => (p.name ?? '') === name && (p.protocol ?? 'TCP') === 'TCP')?.port;
      if (typeof target !== 'number' || checkPortNumber(target) !== null) {
        unresolved += 1;
        problems.push({
          code: 'SERVICE_UNRESOLVED',
          source: group.origin,
          message: `lists no valid port named "${printable(name)}" for Service ${ref} (ports: ${portNames(group.ports)}); its ${group.addresses.length} ready endpoints are left out of that port`,
        });
        continue;
      }
      for (const address of group.addresses) endpoints.push({ address, port: target });
    }
    if (endpoints.length === 0 && unresolved > 0) continue;
    const sorted = sortEndpoints(endpoints);
    if (name !== '') out[name] = sorted;
    if (typeof port.port === 'number' && checkPortNumber(port.port) === null) out[String(port.port)] = sorted;
  }
  return out;
}

function portNames(ports: readonly PortObject[]): string {
  return ports.map((p) => `${printable(p.name ?? '')}=${printable(String(p.port))}`).join(', ') || 'none';
}

function list<T>(value: readonly T[] | null | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const existing = map.get(key);
  if (existing) existing.push(value);
  else map.set(key, [value]);
}
