/**
 * TLS Secrets (type kubernetes.io/tls) in the namespaces configured in
 * kubernetes.secretNamespaces, listed and watched like Services. The API
 * server filters by type, so no other Secret is ever read; the account
 * needs get, list and watch on secrets in those namespaces only.
 */
import type { Logger } from 'pino';
import type { CertificateEntry, CertificatesSnapshot } from '../core/model.ts';
import { CertificateCache } from './certificate-cache.ts';
import { describeApiError, loadKubeConfig, resourcesFor, type KubeAccess } from './kubernetes-api.ts';
import { secretRecord, type SecretRecord } from './kubernetes-records.ts';
import { WatchedResource } from './kubernetes-watch.ts';
import type { Source, SourceStatus } from './source.ts';

export interface KubernetesSecretsOptions extends KubeAccess {
  readonly namespaces: readonly string[];
  readonly watchTimeoutSeconds: number;
  readonly log: Logger;
}

export class KubernetesSecretsSource implements Source<CertificatesSnapshot> {
  readonly name = 'kubernetes-secrets';
  private readonly opts: KubernetesSecretsOptions;
  private readonly watched: readonly WatchedResource<SecretRecord>[];
  private readonly cache = new CertificateCache();
  private current: CertificatesSnapshot | null = null;
  private dirty = true;

  constructor(opts: KubernetesSecretsOptions) {
    this.opts = opts;
    const access: KubeAccess = { kubeconfig: opts.kubeconfig, inCluster: opts.inCluster };
    this.watched = resourcesFor(['secrets'], opts.namespaces).map(
      (resource) =>
        new WatchedResource({
          resource,
          // Only the type and the PEM entries are read; the rest of a Secret is not kept.
          reduce: secretRecord,
          connect: () => loadKubeConfig(access),
          describe: (err, kc) => describeApiError(err, resource, access, kc?.getCurrentCluster()?.server ?? 'the API server'),
          watchTimeoutSeconds: opts.watchTimeoutSeconds,
          log: opts.log,
          sourceName: 'kubernetes-secrets',
        }),
    );
  }

  start(onChange: () => void): void {
    for (const w of this.watched) {
      w.start(() => {
        this.dirty = true;
        onChange();
      });
    }
  }

  snapshot(): CertificatesSnapshot | null {
    if (!this.watched.every((w) => w.health.synced)) return null;
    if (this.dirty || !this.current) {
      this.current = { certificates: this.translate(), secretNamespaces: [...this.opts.namespaces], fileDir: null };
      this.dirty = false;
    }
    return this.current;
  }

  status(): SourceStatus {
    const statuses = this.watched.map((w) => ({ label: w.label, ...w.health.status() }));
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
    await Promise.all(this.watched.map((w) => w.stop()));
  }

  private translate(): Record<string, CertificateEntry> {
    const out: Record<string, CertificateEntry> = {};
    for (const secret of this.watched.flatMap((w) => w.list())) {
      const ns = secret.metadata?.namespace ?? '';
      const name = secret.metadata?.name ?? '';
      const key = `secret:${ns}/${name}`;
      const source = `Secret ${ns}/${name}`;
      if (secret.type !== 'kubernetes.io/tls') continue;
      const crt = decode(secret.data?.['tls.crt']);
      const tlsKey = decode(secret.data?.['tls.key']);
      if (crt === null || tlsKey === null) {
        out[key] = { source, parsed: null, problem: `has no ${crt === null ? 'tls.crt' : 'tls.key'}` };
        continue;
      }
      out[key] = this.cache.entry(key, source, [crt, tlsKey]);
    }
    this.cache.sweep();
    return out;
  }
}

function decode(value: string | undefined): string | null {
  if (typeof value !== 'string' || value === '') return null;
  return Buffer.from(value, 'base64').toString('utf8');
}
