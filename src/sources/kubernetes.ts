/**
 * Kubernetes source: Services and their EndpointSlices (or Endpoints), in
 * every namespace or in the ones configured, turned into the ready endpoints
 * of each Service port. It reports synced only once every resource has been
 * listed, so a starting daemon never renders half a cluster; after that its
 * snapshot is never taken away, only replaced by a newer one.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ServicesSnapshot } from '../core/model.ts';
import { describeApiError, loadKubeConfig, resourcesFor, type KubeAccess, type ResourceKind } from './kubernetes-api.ts';
import { endpointsRecord, serviceRecord, sliceRecord, type EndpointRecord, type ServiceRecord } from './kubernetes-records.ts';
import { WatchedResource, stallBoundMs, type Keyed } from './kubernetes-watch.ts';
import { ServiceIndex } from './service-index.ts';
import type { Source, SourceStatus } from './source.ts';

export interface KubernetesSourceOptions extends KubeAccess {
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly endpoints: 'slices' | 'endpoints';
  /** Server-side timeout of every watch; a watch silent for twice this long is stalled and relisted. */
  readonly watchTimeoutSeconds: number;
  readonly log: Logger;
}

export class KubernetesSource implements Source<ServicesSnapshot> {
  readonly name = 'kubernetes';
  private readonly opts: KubernetesSourceOptions;
  private readonly services: readonly WatchedResource<ServiceRecord>[];
  private readonly endpoints: readonly WatchedResource<EndpointRecord>[];
  /** Fed every change as it arrives, so a snapshot re-resolves only the Services those changes touched. */
  private readonly index: ServiceIndex<EndpointRecord>;

  constructor(opts: KubernetesSourceOptions) {
    this.opts = opts;
    const endpointsKind: ResourceKind = opts.endpoints === 'slices' ? 'endpointslices' : 'endpoints';
    this.services = this.watched('services', serviceRecord);
    // An endpoint object is read into its contribution at receipt: the record carries it.
    this.endpoints = this.watched(endpointsKind, opts.endpoints === 'slices' ? sliceRecord : endpointsRecord);
    this.index = new ServiceIndex(this.services.length, this.endpoints.length, (r) => r.contribution);
  }

  /** How long a watch may stay silent before it counts as stalled. */
  get stallBoundMs(): number {
    return stallBoundMs(this.opts.watchTimeoutSeconds);
  }

  start(onChange: () => void): void {
    this.services.forEach((w, i) =>
      w.start((change) => {
        this.index.applyService(i, change);
        onChange();
      }),
    );
    this.endpoints.forEach((w, i) =>
      w.start((change) => {
        this.index.applyEndpoints(i, change);
        onChange();
      }),
    );
  }

  snapshot(): ServicesSnapshot | null {
    if (!this.all().every((w) => w.health.synced)) return null;
    return this.index.snapshot();
  }

  status(): SourceStatus {
    const statuses = this.all().map((w) => ({ label: w.label, ...w.health.status() }));
    const errors = statuses.filter((s) => s.lastError !== null).map((s) => `${s.label}: ${s.lastError}`);
    const events = statuses.map((s) => s.lastEventAt).filter((at): at is number => at !== null);
    return {
      name: this.name,
      up: statuses.every((s) => s.up),
      synced: statuses.every((s) => s.synced),
      restarts: statuses.reduce((sum, s) => sum + s.restarts, 0),
      lastEventAt: events.length > 0 ? Math.max(...events) : null,
      lastError: errors.length > 0 ? errors.join('; ') : null,
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((w) => w.stop()));
  }

  private all(): readonly (WatchedResource<ServiceRecord> | WatchedResource<EndpointRecord>)[] {
    return [...this.services, ...this.endpoints];
  }

  private watched<T extends Keyed>(kind: ResourceKind, reduce: (o: KubernetesObject) => T): WatchedResource<T>[] {
    const access: KubeAccess = { kubeconfig: this.opts.kubeconfig, inCluster: this.opts.inCluster };
    return resourcesFor([kind], this.opts.namespaces).map(
      (resource) =>
        new WatchedResource({
          resource,
          reduce,
          connect: () => loadKubeConfig(access),
          describe: (err, kc) => describeApiError(err, resource, access, serverOf(kc)),
          watchTimeoutSeconds: this.opts.watchTimeoutSeconds,
          log: this.opts.log,
        }),
    );
  }
}

function serverOf(kc: KubeConfig | null): string {
  return kc?.getCurrentCluster()?.server ?? 'the API server';
}
