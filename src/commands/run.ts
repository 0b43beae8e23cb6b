/** `haproxy-sync run`: the daemon. */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { ServicesSnapshot } from '../core/model.ts';
import { runsAlready } from '../haproxy/adopt.ts';
import { ReloadApplier } from '../haproxy/apply.ts';
import { Fleet } from '../fleet/fleet.ts';
import { MasterClient } from '../haproxy/master.ts';
import { RuntimeClient } from '../haproxy/runtime.ts';
import { RuntimeApplier } from '../haproxy/runtime-apply.ts';
import { sweepStaged } from '../haproxy/files.ts';
import { readLive } from '../haproxy/live.ts';
import { HOSTS_MAP, WILDCARDS_MAP } from '../core/render.ts';
import { lastGoodStore } from '../state/last-good-store.ts';
import { serverStatsReader } from '../haproxy/server-stats.ts';
import { isSupported, OLDEST_SUPPORTED, readVersion, type HaproxyVersion } from '../haproxy/version.ts';
import { readApiToken } from '../http/auth.ts';
import { consoleRoutes } from '../http/console.ts';
import { healthRoutes } from '../http/health.ts';
import { Metrics } from '../http/metrics.ts';
import { startHttpServer, type HttpServer } from '../http/server.ts';
import type { FlipResult } from '../http/vhosts.ts';
import { awaitStopSignal, signalExitCode } from '../lifecycle/signals.ts';
import { SystemdNotifier, takeSystemdEnv } from '../lifecycle/systemd.ts';
import { combineObservers, Reconciler } from '../reconcile/reconciler.ts';
import { Trigger } from '../reconcile/trigger.ts';
import type { Source } from '../sources/source.ts';
import { errorCode, errorMessage } from '../errors.ts';
import { VERSION } from '../version.ts';
import { createSources, renderSettings, serverStateFile, stopSources } from '../wiring.ts';

export const RUN_HELP = `Usage: haproxy-sync run [--config FILE] [options]

Runs the daemon: watches etcd and the endpoint sources, and applies changes
to HAProxy the cheapest safe way: colour flips and pod churn over the
Runtime API, anything structural with a reload validated by \`haproxy -c\`.
SIGTERM or SIGINT stops it gracefully: the watchers stop, an apply in
flight finishes, and the process exits 0 within 5 s. A second signal
stops it at once (exit 128+signal). Under systemd (Type=notify) it
reports readiness and answers the watchdog.`;

/** How long a stop waits for this node's status key to be deleted. */
const NODE_KEY_DELETE_MS = 1500;

/** How long a graceful stop may take; below systemd's and the contract's 5 s, so the exit itself fits. */
const STOP_DEADLINE_MS = 4500;

export async function runCommand(config: Config, log: Logger): Promise<number> {
  const systemdEnv = takeSystemdEnv(process.env, process.pid);
  const systemd = systemdEnv ? new SystemdNotifier(systemdEnv, log) : null;
  const signalled = awaitStopSignal((signal) => {
    log.warn({ signal }, 'second stop signal; exiting now');
    process.exit(signalExitCode(signal));
  });
  const daemon = await startDaemon(config, log);
  // Not awaited: a slow systemd must not delay noticing a stop signal; messages still go out in order.
  void systemd?.ready(`serving the API on ${config.api.listen}`);
  const signal = await signalled;
  log.info({ signal }, 'stopping');
  const deadline = setTimeout(() => {
    log.warn({ code: 'SHUTDOWN_TIMEOUT', deadlineMs: STOP_DEADLINE_MS }, 'graceful stop took too long; exiting without waiting further');
    process.exit(0);
  }, STOP_DEADLINE_MS);
  await Promise.all([systemd?.stopping(), daemon.stop()]);
  clearTimeout(deadline);
  log.info('stopped');
  return 0;
}

export interface Daemon {
  readonly reconciler: Reconciler;
  readonly metrics: Metrics;
  readonly http: HttpServer;
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Counts flip requests by result (for flips_total{result}). */
  readonly onFlip?: (result: FlipResult) => void;
  /** Endpoint sources besides those the config names (benchmarks feed one from memory). */
  readonly services?: readonly Source<ServicesSnapshot>[];
}

export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  const token = config.api.tokenFile ? readApiToken(config.api.tokenFile) : null;
  const sources = createSources(config, log, opts.services);
  const metrics: Metrics = new Metrics({
    version: VERSION,
    sources: () => sources.all.map((s) => s.status()),
    problems: () => ({ problems: reconciler.problems(), lastGood: reconciler.lastKnown()?.desired.vhosts.filter((v) => v.lastGood).length ?? 0 }),
  });
  const onCommand = (ok: boolean): void => metrics.runtimeCommand(ok);
  const noteVersion = versionReporter(log, metrics);
  const master = new MasterClient({ socket: config.haproxy.masterSocket, onVersion: (v) => noteVersion(v, 'master CLI') });
  const admin = new RuntimeClient({ socket: config.haproxy.adminSocket, onCommand });
  const applier = new ReloadApplier(
    { binary: config.haproxy.binary, config: config.haproxy.config, mapsDir: config.haproxy.mapsDir, serverStateFile: serverStateFile(config), certsDir: config.haproxy.certsDir },
    master,
    {
      ...metrics.reloadHooks(),
      onBackup: (file, backup) => log.warn({ file, backup }, `haproxy-sync replaces ${file} from now on; the config that was there is kept in ${backup}`),
    },
    () => admin.command('show servers state'),
  );
  const runtime = new RuntimeApplier({ config: config.haproxy.config, mapsDir: config.haproxy.mapsDir, certsDir: config.haproxy.certsDir }, admin);
  await sweepCrashLeftovers(config, log);
  const reconciler: Reconciler = new Reconciler({
    etcd: sources.etcd,
    services: sources.services,
    templates: sources.templates,
    certificates: sources.certificates,
    settings: renderSettings(config),
    reload: (rendered, kept) => applier.apply(rendered, kept),
    runsAlready: (rendered) => runsAlready(config.haproxy, rendered, () => master.showProc()),
    runtime: (ops, target) => runtime.apply(ops, target),
    lastGood: lastGoodStore(config.state.dir),
    readLive: () => readLive(admin, master, config.haproxy, [HOSTS_MAP, WILDCARDS_MAP]),
    log,
    observer: combineObservers(metrics.reconcileObserver(), { onSynced: (report) => fleet.synced(report) }),
  });
  const fleet = new Fleet({
    node: config.node,
    prefix: config.etcd.prefix,
    client: sources.etcdClient,
    token,
    state: reconciler,
    readStats: serverStatsReader({ socket: config.haproxy.adminSocket, timeoutMs: 2000, onCommand }),
    log,
    onFlip: (result) => {
      metrics.flip(result);
      opts.onFlip?.(result);
    },
  });
  // Known before the first apply where HAProxy answers; every `show proc` (each reload) reads it again.
  void readVersion(master, config.haproxy.binary).then(
    (read) => noteVersion(read.version, read.from),
    (err: unknown) => log.warn({ code: errorCode(err), err: errorMessage(err) }, 'cannot tell the HAProxy version yet'),
  );
  // Read when the sync starts: the changes it applies are those seen up to then.
  const trigger: Trigger = new Trigger(() => reconciler.sync(trigger.firstPendingAt()), config.sync);
  const http = await startHttpServer(config.api.listen, [...healthRoutes(sources.all, reconciler), metrics.route(), ...fleet.routes, ...consoleRoutes()], log);
  fleet.start();
  for (const source of sources.all) source.start(() => trigger.poke());
  const resync = config.haproxy.resyncSeconds > 0
    ? setInterval(() => {
        reconciler.requestResync();
        trigger.poke();
      }, config.haproxy.resyncSeconds * 1000)
    : null;
  log.info({ node: config.node, api: config.api.listen, haproxyConfig: config.haproxy.config, version: VERSION }, 'haproxy-sync started');
  return {
    reconciler,
    metrics,
    http,
    async stop() {
      if (resync) clearInterval(resync);
      // The trigger schedules nothing more and waits for an apply in flight while the watchers close;
      // the node key goes before the etcd client closes: a cleanly stopped node must not be waited for by flips.
      // Deleting the key is a courtesy (it expires with its lease): an unreachable etcd must not eat the stop deadline.
      await Promise.all([trigger.stop(), within(NODE_KEY_DELETE_MS, fleet.stop()).then(() => stopSources(sources))]);
      await http.close();
    },
  };
}

/** Staged files a crash left next to the HAProxy config, the maps and the state. */
async function sweepCrashLeftovers(config: Config, log: Logger): Promise<void> {
  const paths = [config.haproxy.config, serverStateFile(config), join(config.haproxy.mapsDir, HOSTS_MAP), join(config.haproxy.mapsDir, WILDCARDS_MAP)];
  for (const path of paths) {
    try {
      const swept = await sweepStaged(path);
      if (swept.length > 0) log.info({ files: swept }, 'removed temporary files left by an earlier crash');
    } catch (err) {
      log.warn({ path, err: errorMessage(err) }, 'cannot look for temporary files left by an earlier crash');
    }
  }
}

/** Logs and exports the HAProxy version each time it changes (first read, upgrade). */
function versionReporter(log: Logger, metrics: Metrics): (version: HaproxyVersion, from: string) => void {
  let last: string | null = null;
  return (version, from) => {
    if (version.full === last) return;
    last = version.full;
    metrics.haproxyVersion(version.release);
    if (isSupported(version)) log.info({ haproxyVersion: version.full, from }, `HAProxy ${version.release}`);
    else log.error({ code: 'HAPROXY_VERSION_UNSUPPORTED', haproxyVersion: version.full, from }, `HAProxy ${version.full} is older than ${OLDEST_SUPPORTED}; nothing is applied to it`);
  };
}

/** Waits for `promise`, but no longer than `ms`. */
function within(ms: number, promise: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.catch(() => {}).finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
