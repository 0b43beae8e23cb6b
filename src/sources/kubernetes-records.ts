/**
 * What the Kubernetes sources keep of each object: a small plain record made
 * at receipt, so the full object (its managed fields, timestamps, conditions,
 * the client library's class instances) is garbage as soon as it is read. At
 * 20,000 Services and 20,000 EndpointSlices the full objects held in the
 * watch caches were most of the daemon's heap.
 *
 * Every record keeps the metadata the watch machinery reads (namespace and
 * name for the key, resourceVersion for the client's own cache) and exactly
 * the fields the translation reads, copied as they arrived, malformed values
 * included: a record translates exactly like its object, problems and all.
 * An endpoint object is read into its contribution at once, which is all the
 * index ever asks of it.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { endpointsContribution, sliceContribution, type EndpointContribution, type EndpointSliceObject, type EndpointsObject, type ServiceObject } from './kubernetes-endpoints.ts';

/** The metadata the list/watch machinery and the keys need. */
export interface RecordMeta {
  readonly namespace?: string;
  readonly name?: string;
  readonly resourceVersion?: string;
}

/** What is kept of a Service: its ports as the translation reads them. */
export interface ServiceRecord extends ServiceObject {
  readonly metadata: RecordMeta;
}

/** What is kept of an EndpointSlice or Endpoints object: what it contributes to its Service. */
export interface EndpointRecord {
  readonly metadata: RecordMeta;
  readonly contribution: EndpointContribution;
}

/** What is kept of a TLS Secret: its type and its two PEM entries (base64, as listed). */
export interface SecretRecord {
  readonly metadata: RecordMeta;
  readonly type?: string;
  readonly data?: { readonly 'tls.crt'?: string; readonly 'tls.key'?: string };
}

/** Any record: what a watched resource keeps of each object. */
export type KubeRecord = ServiceRecord | EndpointRecord | SecretRecord;

export function serviceRecord(o: KubernetesObject): ServiceRecord {
  const spec = (o as ServiceObject).spec;
  const ports = spec?.ports;
  // Anything but an array of ports reads as no ports; say so with the smallest value.
  return { metadata: metaOf(o), spec: Array.isArray(ports) ? { ports: ports.map(portRecord) } : null };
}

export function sliceRecord(o: KubernetesObject): EndpointRecord {
  return { metadata: metaOf(o), contribution: compact(sliceContribution(o as EndpointSliceObject)) };
}

export function endpointsRecord(o: KubernetesObject): EndpointRecord {
  return { metadata: metaOf(o), contribution: compact(endpointsContribution(o as EndpointsObject)) };
}

export function secretRecord(o: KubernetesObject): SecretRecord {
  const secret = o as { readonly type?: string; readonly data?: Readonly<Record<string, string>> | null };
  const data = secret.data;
  return {
    metadata: metaOf(o),
    ...(secret.type === undefined ? {} : { type: secret.type }),
    ...(data ? { data: { 'tls.crt': data['tls.crt'], 'tls.key': data['tls.key'] } } : {}),
  };
}

function metaOf(o: KubernetesObject): RecordMeta {
  const m = o.metadata;
  return { namespace: m?.namespace, name: m?.name, resourceVersion: m?.resourceVersion };
}

type Port = NonNullable<NonNullable<ServiceObject['spec']>['ports']>[number];

/** The three fields ports are read by; anything that is not an object is kept as it came, to fail as it would have. */
function portRecord(p: Port): Port {
  return typeof p === 'object' && p !== null ? { name: p.name, port: p.port, protocol: p.protocol } : p;
}

/** A contribution whose groups list their ports as plain records rather than the received port objects. */
function compact(c: EndpointContribution): EndpointContribution {
  if (c.groups.length === 0) return c;
  return { ...c, groups: c.groups.map((g) => ({ ...g, ports: g.ports.map(portRecord) })) };
}
