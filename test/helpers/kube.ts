/**
 * Kubernetes objects for pods the tests run: a Service whose "http" port
 * targets the pods' port, and the EndpointSlice and Endpoints the cluster's
 * controllers would make for them (both, so either endpoints mode reads them).
 */
import type { Pod } from '../../src/demo/pods.ts';
import { endpoints, endpointSlice, service, type FakeApiServer } from '../fixtures/fake-apiserver.ts';

export const SERVICE_PORT = 80;

export interface PublishOptions {
  /** Pods listed but not ready. */
  readonly notReady?: readonly Pod[];
  /** Pods listed as terminating (in slices; Endpoints lists them as not ready). */
  readonly terminating?: readonly Pod[];
  /** Slice name; default "<service>-main". */
  readonly slice?: string;
}

export function splitRef(ref: string): [string, string] {
  const [ns = '', name = ''] = ref.split('/');
  return [ns, name];
}

/** Creates or updates the Service "namespace/name" with port "http" (80), targeting the pods' port named "http". */
export function applyService(server: FakeApiServer, ref: string): void {
  const [ns, name] = splitRef(ref);
  server.apply('services', service(ns, name, [{ name: 'http', port: SERVICE_PORT, targetPort: 'http' }]));
}

/**
 * Publishes the pods as the endpoints of a Service: one EndpointSlice (named by opts.slice) and
 * the Endpoints object. All pods of one call must listen on the same port, as pods of one slice do.
 */
export function publishPods(server: FakeApiServer, ref: string, pods: readonly Pod[], opts: PublishOptions = {}): void {
  const [ns, name] = splitRef(ref);
  const notReady = new Set(opts.notReady ?? []);
  const terminating = new Set(opts.terminating ?? []);
  const all = [...pods, ...notReady, ...terminating];
  const port = all[0]?.port;
  if (all.some((p) => p.port !== port)) throw new Error('publishPods: the pods of one slice share a port');
  const ports = port === undefined ? [] : [{ name: 'http', port }];
  const family = (all[0]?.address ?? '').includes(':') ? 'IPv6' : 'IPv4';
  const isReady = (p: Pod): boolean => !notReady.has(p) && !terminating.has(p);
  const eps = all.map((p) => ({ ip: p.address, ready: isReady(p), terminating: terminating.has(p), targetRefName: p.name }));
  server.apply('endpointslices', endpointSlice(ns, opts.slice ?? `${name}-main`, name, eps, ports, family));
  const subset = { addresses: all.filter(isReady).map((p) => ({ ip: p.address })), notReadyAddresses: all.filter((p) => !isReady(p)).map((p) => ({ ip: p.address })), ports };
  server.apply('endpoints', endpoints(ns, name, all.length === 0 ? [] : [subset]));
}
