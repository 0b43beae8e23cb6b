/** `haproxy-sync run`: the daemon. */
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { ReloadApplier } from '../haproxy/apply.ts';
import { Fleet } from '../fleet/fleet.ts';
import { MasterClient } from '../haproxy/master.ts';
import { RuntimeClient } from '../haproxy/runtime.ts';
import { serverStatsReader } from '../haproxy/server-stats.ts';
import { readApiToken } from '../http/auth.ts';
import { healthRoutes } from '../http/health.ts';
import { startHttpServer, type HttpServer } from '../http/server.ts';
import type { FlipResult } from '../http/vhosts.ts';
import { Reconciler } from '../reconcile/reconciler.ts';
import { Trigger } from '../reconcile/trigger.ts';
import { createSources, renderSettings, stopSources } from '../wiring.ts';

export const RUN_HELP = `Usage: haproxy-sync run [--config FILE] [options]

Runs the daemon: watches etcd and the endpoint sources, renders the
HAProxy config, validates it with \`haproxy -c\`, and applies it.
SIGTERM or SIGINT stops it gracefully; a second signal stops it at once.`;

/** How long a graceful stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 5000;

export async function runCommand(config: Config, log: Logger): Promise<number> {
  const daemon = await startDaemon(config, log);
  const signal = await waitForSignal();
  log.info({ signal }, 'stopping');
  const hardStop = setTimeout(() => {
    log.warn('graceful stop took too long; exiting');
    process.exit(0);
  }, STOP_DEADLINE_MS);
  hardStop.unref();
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
  await daemon.stop();
  log.info('stopped');
  return 0;
}

export interface Daemon {
  readonly reconciler: Reconciler;
  readonly http: HttpServer;
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Counts flip requests by result (for flips_total{result}). */
  readonly onFlip?: (result: FlipResult) => void;
}

export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  const token = config.api.tokenFile ? readApiToken(config.api.tokenFile) : null;
  const sources = createSources(config, log);
  const master = new MasterClient({ socket: config.haproxy.masterSocket });
  const applier = new ReloadApplier(
    { binary: config.haproxy.binary, config: config.haproxy.config, mapsDir: config.haproxy.mapsDir },
    master,
  );
  const reconciler = new Reconciler({
    etcd: sources.etcd,
    services: sources.services,
    templates: sources.templates,
    settings: renderSettings(config),
    reload: (rendered) => applier.apply(rendered),
    log,
    observer: { onSynced: (report) => fleet.synced(report) },
  });
  const fleet = new Fleet({
    node: config.node,
    prefix: config.etcd.prefix,
    client: sources.etcdClient,
    token,
    state: reconciler,
    readStats: serverStatsReader(new RuntimeClient({ socket: config.haproxy.adminSocket, timeoutMs: 2000 })),
    log,
    ...(opts.onFlip ? { onFlip: opts.onFlip } : {}),
  });
  const trigger = new Trigger(() => reconciler.sync(), config.sync);
  const http = await startHttpServer(config.api.listen, [...healthRoutes(sources.all, reconciler), ...fleet.routes], log);
  fleet.start();
  for (const source of sources.all) source.start(() => trigger.poke());
  log.info({ node: config.node, api: config.api.listen, haproxyConfig: config.haproxy.config }, 'haproxy-sync started');
  return {
    reconciler,
    http,
    async stop() {
      // The node key goes before the etcd client closes: a cleanly stopped node must not be waited for by flips.
      await Promise.all([trigger.stop(), fleet.stop().then(() => stopSources(sources))]);
      await http.close();
    },
  };
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}
