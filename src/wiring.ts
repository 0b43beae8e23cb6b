/**
 * Builds the sources a config asks for. The daemon and the one-shot
 * commands (render, check) use the same sources, so what `render` prints is
 * what the daemon would apply.
 */
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { bindWords, tlsBindWords, type Config } from './config.ts';
import type { CertificatesSnapshot, EtcdSnapshot, RenderSettings, ServicesSnapshot, TemplatesSnapshot } from './core/model.ts';
import { CertificateFilesSource } from './sources/certificate-files.ts';
import { KubernetesSecretsSource } from './sources/kubernetes-secrets.ts';
import { SyncError } from './errors.ts';
import { sleep } from './sources/backoff.ts';
import { createEtcdClient } from './sources/etcd-client.ts';
import { EtcdSource } from './sources/etcd.ts';
import { KubernetesSource } from './sources/kubernetes.ts';
import type { Source } from './sources/source.ts';
import { StaticFileSource } from './sources/static-file.ts';
import { TemplatesSource } from './sources/templates.ts';

export interface Sources {
  readonly etcdClient: Etcd3;
  readonly etcd: Source<EtcdSnapshot>;
  readonly services: readonly Source<ServicesSnapshot>[];
  readonly templates: Source<TemplatesSnapshot>;
  readonly certificates: readonly Source<CertificatesSnapshot>[];
  readonly all: readonly Source<unknown>[];
}

/** `extraServices`: endpoint sources besides those the config names, for tests and benchmarks. */
export function createSources(config: Config, log: Logger, extraServices: readonly Source<ServicesSnapshot>[] = []): Sources {
  const etcdClient = createEtcdClient(config.etcd);
  const etcd = new EtcdSource({ client: etcdClient, prefix: config.etcd.prefix, log });
  const services: Source<ServicesSnapshot>[] = [];
  if (config.kubernetes) services.push(new KubernetesSource({ ...config.kubernetes, log }));
  services.push(...extraServices);
  if (config.static) services.push(new StaticFileSource(config.static.file, log));
  const templates = new TemplatesSource(config.templates, log);
  const certificates: Source<CertificatesSnapshot>[] = [];
  const k8s = config.kubernetes;
  if (k8s && k8s.secretNamespaces.length > 0) {
    certificates.push(new KubernetesSecretsSource({ kubeconfig: k8s.kubeconfig, inCluster: k8s.inCluster, namespaces: k8s.secretNamespaces, watchTimeoutSeconds: k8s.watchTimeoutSeconds, log }));
  }
  if (config.tls) certificates.push(new CertificateFilesSource(config.tls.dir, log));
  return { etcdClient, etcd, services, templates, certificates, all: [etcd, ...services, templates, ...certificates] };
}

/** HAProxy's server-state file, in the state directory. */
export function serverStateFile(config: Config): string {
  return join(config.state.dir, 'server-state');
}

export function renderSettings(config: Config): RenderSettings {
  return {
    node: config.node,
    serverStateFile: serverStateFile(config),
    adminSocket: config.haproxy.adminSocket,
    mapsDir: config.haproxy.mapsDir,
    bind: bindWords(config),
    spareSlots: config.haproxy.spareSlots,
    tls: config.haproxy.bindTls.length > 0 ? { bind: tlsBindWords(config), certsDir: config.haproxy.certsDir } : null,
    process: {
      user: config.haproxy.user,
      group: config.haproxy.group,
      chroot: config.haproxy.chroot,
      log: config.haproxy.log,
      errorfiles: config.haproxy.errorfiles,
    },
  };
}

/** Starts the sources and waits for every one to complete its first read, for one-shot commands. */
export async function readOnce(sources: Sources, timeoutMs: number): Promise<void> {
  for (const s of sources.all) s.start(() => {});
  const deadline = Date.now() + timeoutMs;
  while (sources.all.some((s) => !s.status().synced)) {
    if (Date.now() > deadline) {
      const missing = sources.all.filter((s) => !s.status().synced).map((s) => `${s.name}${s.status().lastError ? ` (${s.status().lastError})` : ''}`);
      throw new SyncError('SOURCE_ERROR', `sources did not complete a first read within ${timeoutMs} ms: ${missing.join(', ')}`);
    }
    await sleep(50);
  }
}

export async function stopSources(sources: Sources): Promise<void> {
  await Promise.all(sources.all.map((s) => s.stop()));
  sources.etcdClient.close();
}
