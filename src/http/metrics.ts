/**
 * Prometheus metrics, named as in DESIGN (prefix haproxy_sync_), plus
 * prom-client's default process and Node.js metrics. One registry per
 * daemon, so several daemons in one test process never share counters.
 * The recording methods are the hooks the edges call where each event
 * happens; source state is read at scrape time, so it is never stale.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DriftKind } from '../core/drift.ts';
import type { Problem } from '../core/model.ts';
import type { AppliedState } from '../core/plan.ts';
import { ERROR_CODES } from '../errors.ts';
import type { CheckResult } from '../haproxy/check.ts';
import type { ReloadHooks } from '../haproxy/apply.ts';
import type { ReconcileObserver, SyncReport } from '../reconcile/reconciler.ts';
import type { SourceStatus } from '../sources/source.ts';
import type { Route } from './server.ts';
import type { FlipResult } from './vhosts.ts';

export const PREFIX = 'haproxy_sync_';

/** Seconds, 1 ms to 10 s: a map update takes a millisecond, a checked reload of a big config seconds. */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type ServerState = 'active' | 'standby' | 'spare';

export interface MetricsOptions {
  readonly version: string;
  /** Every source's current status, read at each scrape. */
  readonly sources: () => readonly SourceStatus[];
  /** The current problems and the vhosts serving their last good version, read at each scrape. */
  readonly problems?: () => { readonly problems: readonly Problem[]; readonly lastGood: number };
}

export class Metrics {
  readonly registry = new Registry();
  private readonly lastReloadOk: Gauge;
  private readonly lastReloadAt: Gauge;
  private readonly configHash: Gauge;
  private readonly reloads: Counter<'result'>;
  private readonly checks: Counter<'result'>;
  private readonly reloadSeconds: Histogram;
  private readonly checkSeconds: Histogram;
  private readonly renderSeconds: Histogram;
  private readonly applies: Counter<'mode'>;
  private readonly runtimeCommands: Counter<'result'>;
  private readonly syncLatency: Histogram;
  private readonly vhosts: Gauge;
  private readonly servers: Gauge<'state'>;
  private readonly flips: Counter<'result'>;
  private readonly driftRepairs: Counter<'kind'>;
  private readonly certificateExpiry: Gauge<'host'>;
  private readonly haproxyInfo: Gauge<'version'>;

  constructor(opts: MetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const histogram = (name: string, help: string): Histogram => new Histogram({ name: PREFIX + name, help, buckets: [...DURATION_BUCKETS], registers });
    this.lastReloadOk = new Gauge({ name: `${PREFIX}config_last_reload_successful`, help: 'Whether the last attempt to apply a new config succeeded (1) or failed (0); the last good config keeps serving meanwhile.', registers });
    this.lastReloadAt = new Gauge({ name: `${PREFIX}config_last_reload_success_timestamp_seconds`, help: 'Unix time of the last successful apply that changed what HAProxy runs (reload or Runtime API).', registers });
    this.configHash = new Gauge({ name: `${PREFIX}config_hash`, help: 'The applied config hash: its first 13 hex digits (52 bits) as a number.', registers });
    this.reloads = new Counter({ name: `${PREFIX}reloads_total`, help: 'HAProxy reloads through the master CLI, by result.', labelNames: ['result'], registers });
    this.checks = new Counter({ name: `${PREFIX}config_checks_total`, help: 'Rendered configs validated with haproxy -c, by result.', labelNames: ['result'], registers });
    this.reloadSeconds = histogram('reload_duration_seconds', 'Time from the reload command to HAProxy confirming it in show proc.');
    this.checkSeconds = histogram('config_check_duration_seconds', 'Time haproxy -c took to validate a staged config.');
    this.renderSeconds = histogram('render_duration_seconds', 'Time to render the templates into haproxy.cfg and maps.');
    this.applies = new Counter({ name: `${PREFIX}applies_total`, help: 'Successful syncs by how they were applied: runtime (Runtime API), reload, or noop (nothing to change).', labelNames: ['mode'], registers });
    this.runtimeCommands = new Counter({ name: `${PREFIX}runtime_api_commands_total`, help: 'Runtime API commands, by result: ok (accepted) or error (refused or unanswered).', labelNames: ['result'], registers });
    this.syncLatency = histogram('sync_latency_seconds', 'Time from a source change being seen to HAProxy serving it.');
    this.vhosts = new Gauge({ name: `${PREFIX}vhosts`, help: 'Virtual hosts HAProxy serves now.', registers });
    this.servers = new Gauge({ name: `${PREFIX}servers`, help: 'Server slots HAProxy runs now: active (live colour), standby (other colours), spare (free, for Runtime API churn).', labelNames: ['state'], registers });
    this.certificateExpiry = new Gauge({ name: `${PREFIX}certificate_expiry_timestamp_seconds`, help: 'Unix time at which the certificate HTTPS serves for a vhost expires.', labelNames: ['host'], registers });
    this.flips = new Counter({ name: `${PREFIX}flips_total`, help: 'Colour flips asked through the API, by result.', labelNames: ['result'], registers });
    this.driftRepairs = new Counter({ name: `${PREFIX}drift_repairs_total`, help: 'Differences between HAProxy\'s runtime state and the applied state found and repaired, by kind: map, server_addr, server_state, structure (repaired by reload), restart (HAProxy restarted behind the daemon\'s back).', labelNames: ['kind'], registers });
    this.haproxyInfo = new Gauge({ name: `${PREFIX}haproxy_info`, help: 'Always 1; the running HAProxy release (e.g. 3.0.11) is in the label. Absent until the version is known.', labelNames: ['version'], registers });
    sourceMetrics(registers, opts.sources);
    problemMetrics(registers, opts.problems ?? (() => ({ problems: [], lastGood: 0 })));
    const build = new Gauge({ name: `${PREFIX}build_info`, help: 'Always 1; the version is in the label.', labelNames: ['version'], registers });
    build.set({ version: opts.version }, 1);
    this.initialise();
  }

  /** Hooks for ReloadApplier. */
  reloadHooks(): ReloadHooks {
    return {
      onCheck: (result: CheckResult) => {
        this.checks.inc({ result: outcome(result.ok) });
        this.checkSeconds.observe(result.durationMs / 1000);
      },
      onReload: (ok: boolean, durationMs: number) => {
        this.reloads.inc({ result: outcome(ok) });
        this.reloadSeconds.observe(durationMs / 1000);
      },
    };
  }

  /** Hooks for the Reconciler. */
  reconcileObserver(): ReconcileObserver {
    return {
      onRender: (durationMs) => this.renderSeconds.observe(durationMs / 1000),
      onSynced: (report, applied) => this.synced(report, applied),
      onDrift: (kind, count) => this.driftRepairs.inc({ kind }, count),
    };
  }

  /** For RuntimeClient's onCommand hook. */
  runtimeCommand(ok: boolean): void {
    this.runtimeCommands.inc({ result: ok ? 'ok' : 'error' });
  }

  /** The HAProxy release now running; replaces the one seen before (an upgrade). */
  haproxyVersion(release: string): void {
    this.haproxyInfo.reset();
    this.haproxyInfo.set({ version: release }, 1);
  }

  /** For the flip API: counts one flip by its result. */
  flip(result: FlipResult): void {
    this.flips.inc({ result });
  }

  route(): Route {
    return {
      method: 'GET',
      path: /^\/metrics$/,
      handler: async () => ({ status: 200, body: null, text: { contentType: this.registry.contentType, body: await this.registry.metrics() } }),
    };
  }

  private synced(report: SyncReport, applied: AppliedState | null): void {
    this.lastReloadOk.set(report.ok ? 1 : 0);
    if (report.configHash) this.configHash.set(hashValue(report.configHash));
    if (report.ok && report.mode) this.applies.inc({ mode: report.mode });
    if (report.ok && report.mode && report.mode !== 'noop') this.lastReloadAt.set(report.at / 1000);
    if (report.ok && report.changeSeenAt !== null) this.syncLatency.observe(Math.max(0, report.at - report.changeSeenAt) / 1000);
    if (applied) this.setServing(applied);
  }

  private setServing(applied: AppliedState): void {
    this.vhosts.set(applied.desired.vhosts.length);
    for (const [state, n] of Object.entries(countServers(applied))) this.servers.set({ state }, n);
    // Hosts that lost their certificate (or their vhost) must not keep a stale expiry.
    this.certificateExpiry.reset();
    if (!applied.view.https) return;
    for (const v of applied.desired.vhosts) if (v.tls) this.certificateExpiry.set({ host: v.host }, Math.floor(v.tls.leaf.notAfter / 1000));
  }

  /** Every label value exists from the start, so rate() and absent() work before the first event. */
  private initialise(): void {
    for (const result of ['success', 'failure']) {
      this.reloads.inc({ result }, 0);
      this.checks.inc({ result }, 0);
    }
    for (const mode of ['runtime', 'reload', 'noop']) this.applies.inc({ mode }, 0);
    for (const result of ['ok', 'error']) this.runtimeCommands.inc({ result }, 0);
    for (const state of ['active', 'standby', 'spare']) this.servers.set({ state }, 0);
    for (const kind of DRIFT_KINDS) this.driftRepairs.inc({ kind }, 0);
  }
}

const DRIFT_KINDS: readonly (DriftKind | 'restart')[] = ['map', 'server_addr', 'server_state', 'structure', 'restart'];

/** Problems by code, and vhosts serving their last good version, computed at scrape time. */
function problemMetrics(registers: Registry[], read: NonNullable<MetricsOptions['problems']>): void {
  new Gauge({
    name: `${PREFIX}problems`,
    help: 'Current problems with the inputs or the state directory, by error code (a bad etcd value, an unresolved Service, ...).',
    labelNames: ['code'],
    registers,
    collect() {
      const counts = new Map<string, number>();
      for (const p of read().problems) counts.set(p.code, (counts.get(p.code) ?? 0) + 1);
      this.reset();
      for (const [code, n] of counts) if (code in ERROR_CODES) this.set({ code }, n);
    },
  });
  new Gauge({
    name: `${PREFIX}vhosts_last_good`,
    help: 'Virtual hosts serving their last good version because their current etcd values are invalid.',
    registers,
    collect() {
      this.set(read().lastGood);
    },
  });
}

/** Source gauges and the restart counter, computed from each source's status at scrape time. */
function sourceMetrics(registers: Registry[], sources: () => readonly SourceStatus[]): void {
  new Gauge({
    name: `${PREFIX}source_up`,
    help: 'Whether a source is connected and watching (1) or failing and retrying (0).',
    labelNames: ['source'],
    registers,
    collect() {
      for (const s of sources()) this.set({ source: s.name }, s.up ? 1 : 0);
    },
  });
  new Gauge({
    name: `${PREFIX}source_last_event_timestamp_seconds`,
    help: 'Unix time a source last delivered data or confirmed its watch.',
    labelNames: ['source'],
    registers,
    collect() {
      for (const s of sources()) if (s.lastEventAt !== null) this.set({ source: s.name }, s.lastEventAt / 1000);
    },
  });
  const seen = new Map<string, number>();
  new Counter({
    name: `${PREFIX}watch_restarts_total`,
    help: 'Times a source re-read and restarted its watch after a failure.',
    labelNames: ['source'],
    registers,
    collect() {
      for (const s of sources()) {
        this.inc({ source: s.name }, Math.max(0, s.restarts - (seen.get(s.name) ?? 0)));
        seen.set(s.name, Math.max(s.restarts, seen.get(s.name) ?? 0));
      }
    },
  });
}

export function countServers(applied: AppliedState): Record<ServerState, number> {
  const counts: Record<ServerState, number> = { active: 0, standby: 0, spare: 0 };
  for (const vhost of applied.desired.vhosts) {
    for (const backend of vhost.backends) {
      for (const slot of applied.layout[backend.name] ?? []) {
        const state: ServerState = slot.endpoint === null ? 'spare' : backend.colour === vhost.active ? 'active' : 'standby';
        counts[state] += 1;
      }
    }
  }
  return counts;
}

/**
 * A gauge holds a float64, exact for integers up to 2^53: the first 13 hex
 * digits (52 bits) of the hash fit, and still tell configs apart. Compare
 * with the logged hash by printing the value in hex.
 */
export function hashValue(hash: string): number {
  return Number.parseInt(hash.slice(0, 13), 16);
}

function outcome(ok: boolean): 'success' | 'failure' {
  return ok ? 'success' : 'failure';
}
