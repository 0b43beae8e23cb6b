/** `haproxy-sync run`: the daemon. */
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { ServicesSnapshot } from '../core/model.ts';
import { ReloadApplier } from '../haproxy/apply.ts';
import { MasterClient } from '../haproxy/master.ts';
import { RuntimeClient } from '../haproxy/runtime.ts';
import { RuntimeApplier } from '../haproxy/runtime-apply.ts';
import { healthRoutes } from '../http/health.ts';
import { startHttpServer, type HttpServer } from '../http/server.ts';
import { Reconciler } from '../reconcile/reconciler.ts';
import { Trigger } from '../reconcile/trigger.ts';
import type { Source } from '../sources/source.ts';
import { createSources, renderSettings, stopSources } from '../wiring.ts';

export const RUN_HELP = `Usage: haproxy-sync run [--config FILE] [options]

Runs the daemon: watches etcd and the endpoint sources, and applies changes
to HAProxy the cheapest safe way: colour flips and pod churn over the
Runtime API, anything structural with a reload validated by \`haproxy -c\`.
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
  /** Endpoint sources besides those the config names (benchmarks feed one from memory). */
  readonly services?: readonly Source<ServicesSnapshot>[];
}

export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  const sources = createSources(config, log, opts.services);
  const master = new MasterClient({ socket: config.haproxy.masterSocket });
  const applier = new ReloadApplier(
    { binary: config.haproxy.binary, config: config.haproxy.config, mapsDir: config.haproxy.mapsDir },
    master,
  );
  const runtime = new RuntimeApplier(
    { config: config.haproxy.config, mapsDir: config.haproxy.mapsDir },
    new RuntimeClient({ socket: config.haproxy.adminSocket }),
  );
  const reconciler = new Reconciler({
    etcd: sources.etcd,
    services: sources.services,
    templates: sources.templates,
    settings: renderSettings(config),
    reload: (rendered) => applier.apply(rendered),
    runtime: (ops, target) => runtime.apply(ops, target),
    log,
  });
  const trigger = new Trigger(() => reconciler.sync(), config.sync);
  const http = await startHttpServer(config.api.listen, healthRoutes(sources.all, reconciler), log);
  for (const source of sources.all) source.start(() => trigger.poke());
  log.info({ node: config.node, api: config.api.listen, haproxyConfig: config.haproxy.config }, 'haproxy-sync started');
  return {
    reconciler,
    http,
    async stop() {
      await Promise.all([trigger.stop(), stopSources(sources)]);
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
