/**
 * The one reconcile function. It reads every source's current snapshot,
 * computes the whole desired state, and applies the difference to HAProxy
 * the cheapest safe way. It never acts on an event's payload, so running it
 * twice, or late, is always correct.
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DesiredCache } from '../core/desired-cache.ts';
import { describeDrift, findDrift, type Drift, type DriftKind, type LiveState } from '../core/drift.ts';
import { sameRecords } from '../core/last-good.ts';
import { mergeCertificates } from '../core/tls.ts';
import { formatDuration, Outage } from '../core/outage.ts';
import { keptSlots, type KeptSlots } from '../core/server-state.ts';
import type { CertificatesSnapshot, DesiredState, EtcdSnapshot, LastGoodRecords, Problem, RenderSettings, Rendered, ServicesSnapshot, TemplatesSnapshot } from '../core/model.ts';
import { plan, type AppliedState, type RuntimeOp, type RuntimePlan, type Target } from '../core/plan.ts';
import { prerender, renderView, templateView } from '../core/render.ts';
import { layoutSlots, shrinkLayout, type Layout } from '../core/slots.ts';
import { ERROR_CODES, errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import type { ReloadOutcome } from '../haproxy/apply.ts';
import type { RuntimeOutcome, RuntimeTarget } from '../haproxy/runtime-apply.ts';
import { Backoff } from '../sources/backoff.ts';
import type { Source } from '../sources/source.ts';
import type { LastGoodStore } from '../state/last-good-store.ts';
import type { RunOutcome } from './trigger.ts';

/** Vhosts made, or backends rendered, per turn of the event loop when a sync has many (a first sync, a reload). */
const SLICE = 500;

export interface ReconcilerDeps {
  readonly etcd: Source<EtcdSnapshot>;
  readonly services: readonly Source<ServicesSnapshot>[];
  readonly templates: Source<TemplatesSnapshot>;
  /** Certificate sources (Secrets, files); none: vhosts naming a certificate are told no source is configured. */
  readonly certificates?: readonly Source<CertificatesSnapshot>[];
  readonly settings: RenderSettings;
  /** `kept`: the slots whose HAProxy state (health, DRAIN) may carry over the reload. */
  readonly reload: (rendered: Rendered, kept: KeptSlots) => Promise<ReloadOutcome>;
  /** Whether HAProxy already runs exactly these files (a restarted daemon then takes them over without a reload). */
  readonly runsAlready?: (rendered: Rendered) => Promise<boolean>;
  /** Applies runtime operations, writing the target's files; a failure here is followed by a reload. */
  readonly runtime: (ops: readonly RuntimeOp[], target: RuntimeTarget) => Promise<RuntimeOutcome>;
  readonly log: Logger;
  readonly observer?: ReconcileObserver;
  /** Keeps the last good version of every vhost across daemon restarts. */
  readonly lastGood?: LastGoodStore;
  /** Reads HAProxy's runtime state, for drift detection; `masterPid` tells a restart from a reload. */
  readonly readLive?: () => Promise<LiveState & { readonly masterPid: number }>;
  readonly now?: () => number;
}

/** HAProxy was found not running what was applied: what differed and how it was repaired. */
export interface DriftReport {
  readonly kind: DriftKind | 'restart';
  readonly count: number;
}

export type ApplyMode = 'noop' | 'reload' | 'runtime';

/** The outcome of the last sync, for logs, /readyz, the API and metrics. */
export interface SyncReport {
  readonly at: number;
  readonly ok: boolean;
  readonly mode: ApplyMode | null;
  readonly reason: string;
  readonly durationMs: number;
  readonly revision: number;
  readonly configHash: string | null;
  /** When the oldest change this sync applies was first seen (Date.now()), for the sync-latency metric. */
  readonly changeSeenAt: number | null;
  readonly code?: ErrorCode;
  readonly message?: string;
  /** Set when a runtime plan failed and a reload was tried instead: why the Runtime API path was left. */
  readonly fallback?: Fallback;
}

export interface Fallback {
  readonly code: ErrorCode;
  readonly message: string;
}

/** Hooks for metrics; every method is optional. */
export interface ReconcileObserver {
  onRender?(durationMs: number): void;
  onSynced?(report: SyncReport, applied: AppliedState | null): void;
  onDrift?(kind: DriftKind | 'restart', count: number): void;
}

/** Several observers as one, each told in turn. */
export function combineObservers(...observers: readonly ReconcileObserver[]): ReconcileObserver {
  return {
    onRender: (durationMs) => observers.forEach((o) => o.onRender?.(durationMs)),
    onSynced: (report, applied) => observers.forEach((o) => o.onSynced?.(report, applied)),
    onDrift: (kind, count) => observers.forEach((o) => o.onDrift?.(kind, count)),
  };
}

export class Reconciler {
  private readonly deps: ReconcilerDeps;
  private readonly retry = new Backoff(1000, 30000);
  private readonly loggedProblems = new Set<string>();
  private readonly outage = new Outage();
  private readonly desired = new DesiredCache();
  private appliedState: AppliedState | null = null;
  private report: SyncReport | null = null;
  private currentProblems: readonly Problem[] = [];
  private waitingFor: readonly string[] = ['first sync'];
  private changeSeenAt: number | null = null;
  /** What HAProxy was last known to run, kept while the current state is unknown. */
  private known: AppliedState | null = null;
  private unknownFrom: number | null = null;
  private lastGood: LastGoodRecords = {};
  /** What the state file holds; null until loaded, or after a failed write. */
  private savedLastGood: LastGoodRecords | null = null;
  private stateProblems: readonly Problem[] = [];
  private loaded = false;
  private resyncDue = false;
  private masterPid: number | null = null;
  /** HAProxy refused the last reload: the files on disk are known not to run, whatever the workers' start times say. */
  private reloadRefused = false;
  /** Where this sync's time went, in ms, for the log line: a slow sync says which step was slow. */
  private stages: Record<string, number> = {};

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
  }

  applied(): AppliedState | null {
    return this.appliedState;
  }

  /** The applied state, or while it is unknown (a fallback, failing reloads) the last one known. */
  lastKnown(): AppliedState | null {
    return this.appliedState ?? this.known;
  }

  /** Since when (ms since the epoch) what HAProxy runs is not known, after it was known; null while known. */
  unknownSince(): number | null {
    return this.appliedState ? null : this.unknownFrom;
  }

  /** Asks the next sync to compare HAProxy's runtime state with what was applied. */
  requestResync(): void {
    this.resyncDue = true;
  }

  lastReport(): SyncReport | null {
    return this.report;
  }

  problems(): readonly Problem[] {
    return this.currentProblems;
  }

  /** Sources that have not completed their first read; nothing is rendered until this is empty. */
  waiting(): readonly string[] {
    return this.waitingFor;
  }

  /** `changeSeenAt`: when the trigger first saw the oldest change not yet applied. */
  async sync(changeSeenAt: number | null = null): Promise<RunOutcome> {
    const started = performance.now();
    this.stages = {};
    this.changeSeenAt = changeSeenAt;
    try {
      return await this.reconcile(started);
    } catch (err) {
      // A bug, not bad input: reported like any failure, and retried with backoff.
      return this.finish(started, this.report?.revision ?? 0, null, { ok: false, code: 'INTERNAL', message: errorMessage(err) });
    }
  }

  private async reconcile(started: number): Promise<RunOutcome> {
    const inputs = this.gather();
    if (!inputs) return {};
    if (!this.loaded) await this.loadState();
    const tls = { certificates: inputs.certificates, nowMs: Date.now(), previous: this.appliedState?.desired ?? null };
    const now = this.now();
    const desiredStart = performance.now();
    // Every vhost to make (the first sync): a slice per turn of the event loop, so the API and etcd's keepalive still answer.
    // Later syncs make only what changed, and looking for it twice would cost more than it saves.
    if (this.known === null) while (!this.desired.prepare(inputs.etcd, inputs.services, this.lastGood, now, tls, SLICE)) await yieldToLoop();
    const desired = this.desired.build(inputs.etcd, inputs.services, this.lastGood, now, tls);
    this.timed('desired', desiredStart);
    this.noteProblems([...desired.problems, ...this.stateProblems]);
    const outcome = await this.applyDesired(desired, inputs.templates, started);
    if (this.report?.ok && this.appliedState?.desired === desired) await this.remember(desired.lastGood ?? {});
    return outcome;
  }

  private async applyDesired(desired: DesiredState, templates: TemplatesSnapshot, started: number): Promise<RunOutcome> {
    const planStart = performance.now();
    const spare = this.deps.settings.spareSlots;
    const backends = desired.vhosts.flatMap((v) => v.backends);
    const fitted = this.target(desired, layoutSlots(backends, spare, this.appliedState?.layout ?? null), templates);
    const p = plan(this.appliedState, fitted);
    this.timed('plan', planStart);
    if (p.mode === 'noop') {
      const outcome = this.noop(fitted, started);
      return this.resyncDue && this.appliedState && this.deps.readLive ? this.resync(this.appliedState, started) : outcome;
    }
    // A reload rewrites every backend anyway: the moment to give back the free slots churn left behind.
    const target = p.mode === 'reload' ? this.target(desired, shrinkLayout(fitted.layout, spare), templates) : fitted;
    let rendered: Rendered;
    try {
      if (p.mode === 'reload') await this.prerender(target);
      const renderStart = performance.now();
      rendered = renderView(target.view, desired, target.templates);
      this.deps.observer?.onRender?.(performance.now() - renderStart);
      this.timed('render', renderStart);
    } catch (err) {
      return this.finish(started, desired.revision, null, { ok: false, code: codeOf(err, 'TEMPLATE_INVALID'), message: errorMessage(err) });
    }
    const next: AppliedState = { ...target, rendered };
    return p.mode === 'runtime' ? this.applyRuntime(p, next, started) : this.applyReload(p.reason, next, started);
  }

  /** The backends a reload renders, a slice per turn of the event loop; the render that follows finds them ready. */
  private async prerender(target: Target): Promise<void> {
    const backends = target.view.backends;
    if (backends.length <= SLICE) return;
    for (let i = 0; i < backends.length; i += SLICE) {
      prerender(target.view, backends.slice(i, i + SLICE), target.templates);
      await yieldToLoop();
    }
  }

  private target(desired: DesiredState, layout: Layout, templates: TemplatesSnapshot): Target {
    return { desired, layout, view: templateView(desired, layout, this.deps.settings), templates };
  }

  /** Nothing to send; the applied state still takes the new desired state (revisions, problems). */
  private noop(target: Target, started: number): RunOutcome {
    const rendered = this.appliedState?.rendered ?? null;
    this.setApplied(rendered && { ...target, rendered });
    const hash = rendered && configHash(rendered);
    return this.finish(started, target.desired.revision, hash, { ok: true, mode: 'noop', reason: 'HAProxy already runs this config' });
  }

  private async applyRuntime(p: RuntimePlan, next: AppliedState, started: number): Promise<RunOutcome> {
    const applyStart = performance.now();
    const outcome = await this.deps.runtime(p.ops, next);
    this.timed('runtime', applyStart);
    if (outcome.ok) {
      this.setApplied(next);
      return this.finish(started, next.desired.revision, configHash(next.rendered), { ok: true, mode: 'runtime', reason: p.reason });
    }
    // Some commands may have landed: until a reload confirms the files, what HAProxy runs is not known.
    this.setApplied(null);
    this.deps.log.warn({ code: outcome.code, err: outcome.message, reason: p.reason }, 'Runtime API apply failed; falling back to a checked reload');
    const fallback = { code: outcome.code, message: outcome.message };
    return this.applyReload(`${p.reason} (by reload: the Runtime API apply failed)`, next, started, fallback);
  }

  private async applyReload(reason: string, next: AppliedState, started: number, fallback?: Fallback): Promise<RunOutcome> {
    if (this.appliedState === null && !fallback && !this.reloadRefused && (await this.takesOver(next.rendered))) {
      this.setApplied(next);
      return this.finish(started, next.desired.revision, configHash(next.rendered), { ok: true, mode: 'noop', reason: 'HAProxy already runs these files' });
    }
    // Against the last known layout, even after a failed runtime apply: HAProxy's own addresses are checked too.
    const reloadStart = performance.now();
    const outcome = await this.deps.reload(next.rendered, keptSlots(this.known?.layout ?? null, next.layout));
    this.timed('reload', reloadStart);
    if (outcome.ok) this.setApplied(next);
    // A reload HAProxy did not confirm, or could not be asked for, leaves what it runs in doubt.
    else if (outcome.code === 'HAPROXY_RELOAD_FAILED' || outcome.code === 'HAPROXY_UNREACHABLE') this.setApplied(null);
    this.reloadRefused = !outcome.ok && outcome.code === 'HAPROXY_RELOAD_FAILED';
    const result = outcome.ok
      ? { ok: true, mode: 'reload' as const, reason, fallback }
      : { ok: false, mode: 'reload' as const, reason, code: outcome.code, message: outcome.message, fallback };
    return this.finish(started, next.desired.revision, configHash(next.rendered), result);
  }

  /** A failed look is a no: the reload that follows is always safe. */
  private async takesOver(rendered: Rendered): Promise<boolean> {
    try {
      return (await this.deps.runsAlready?.(rendered)) === true;
    } catch (err) {
      this.deps.log.debug({ err: errorMessage(err) }, 'cannot tell whether HAProxy runs the current files; reloading');
      return false;
    }
  }

  private setApplied(state: AppliedState | null): void {
    if (state) {
      this.known = state;
      this.unknownFrom = null;
    } else if (this.appliedState || this.unknownFrom === null) {
      this.unknownFrom = this.now();
    }
    this.appliedState = state;
  }

  private timed(stage: string, since: number): void {
    this.stages[stage] = Math.round(performance.now() - since);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /**
   * Compares HAProxy's runtime state with the applied state and repairs any
   * difference: over the Runtime API when it can express it, else by a
   * checked reload. A restart of HAProxy (a new master) is reported too;
   * HAProxy then runs the files, which the comparison checks.
   */
  private async resync(applied: AppliedState, started: number): Promise<RunOutcome> {
    this.resyncDue = false;
    let live: LiveState & { masterPid: number };
    try {
      live = await this.deps.readLive!();
    } catch (err) {
      this.setApplied(null);
      return this.finish(started, applied.desired.revision, null, { ok: false, mode: 'noop', reason: 'reading HAProxy\'s runtime state', code: liveCode(err), message: `cannot read HAProxy's runtime state: ${errorMessage(err)}` });
    }
    const restarted = this.masterPid !== null && live.masterPid !== this.masterPid;
    this.masterPid = live.masterPid;
    if (restarted) {
      this.deps.log.warn({ code: 'HAPROXY_DRIFT', kind: 'restart', masterPid: live.masterPid }, 'HAProxy was restarted outside haproxy-sync; checking what it runs');
      this.deps.observer?.onDrift?.('restart', 1);
    }
    const repair = findDrift(applied, live);
    if (repair.drifts.length === 0) return restarted ? this.finish(started, applied.desired.revision, configHash(applied.rendered), { ok: true, mode: 'noop', reason: 'HAProxy restarted; it runs the applied files' }) : {};
    this.noteDrift(repair.drifts);
    const reason = `drift: ${repair.drifts.slice(0, 3).map(describeDrift).join('; ')}${repair.drifts.length > 3 ? ` (+${repair.drifts.length - 3} more)` : ''}`;
    if (repair.reload) return this.applyReload(`${reason} (by reload)`, applied, started);
    return this.applyRuntime({ mode: 'runtime', reason, ops: repair.ops }, applied, started);
  }

  private noteDrift(drifts: readonly Drift[]): void {
    const counts = new Map<DriftKind, number>();
    for (const d of drifts) {
      this.deps.log.warn({ code: 'HAPROXY_DRIFT', kind: d.kind, where: d.where, expected: d.expected, found: d.found }, `HAProxy differs from the applied state: ${describeDrift(d)}; repairing`);
      counts.set(d.kind, (counts.get(d.kind) ?? 0) + 1);
    }
    for (const [kind, n] of counts) this.deps.observer?.onDrift?.(kind, n);
  }

  private async loadState(): Promise<void> {
    this.loaded = true;
    if (!this.deps.lastGood) return;
    const { records, problems } = await this.deps.lastGood.load();
    this.lastGood = records;
    this.savedLastGood = records;
    this.stateProblems = problems;
  }

  /** Keeps the last good versions of what was just applied, in memory and on disk. */
  private async remember(records: LastGoodRecords): Promise<void> {
    this.lastGood = records;
    if (!this.deps.lastGood || (this.savedLastGood && sameRecords(this.savedLastGood, records))) return;
    try {
      await this.deps.lastGood.save(records);
      this.savedLastGood = records;
      if (this.stateProblems.length > 0) {
        this.stateProblems = [];
        this.noteProblems(this.currentProblems.filter((p) => p.code !== 'STATE_UNWRITABLE' && p.code !== 'STATE_INVALID'));
      }
    } catch (err) {
      this.savedLastGood = null;
      const problem: Problem = { code: 'STATE_UNWRITABLE', source: 'state directory', message: errorMessage(err) };
      this.stateProblems = [problem];
      this.noteProblems([...this.currentProblems.filter((p) => p.code !== 'STATE_UNWRITABLE'), problem]);
    }
  }

  private gather(): { etcd: EtcdSnapshot; services: ServicesSnapshot[]; templates: TemplatesSnapshot; certificates: CertificatesSnapshot | null } | null {
    const etcd = this.deps.etcd.snapshot();
    const templates = this.deps.templates.snapshot();
    const services = this.deps.services.map((s) => s.snapshot());
    const certSources = this.deps.certificates ?? [];
    const certificates = certSources.map((s) => s.snapshot());
    const waiting = [
      ...(etcd ? [] : ['etcd']),
      ...(templates ? [] : ['templates']),
      ...this.deps.services.filter((_, i) => !services[i]).map((s) => s.name),
      ...certSources.filter((_, i) => !certificates[i]).map((s) => s.name),
    ];
    this.waitingFor = waiting;
    if (!etcd || !templates || waiting.length > 0) return null;
    const certs = certificates.filter((c): c is CertificatesSnapshot => c !== null);
    return { etcd, templates, services: services.filter((s): s is ServicesSnapshot => s !== null), certificates: mergeCertificates(certs) };
  }

  private finish(
    started: number,
    revision: number,
    hash: string | null,
    result: { ok: boolean; mode?: ApplyMode; reason?: string; code?: ErrorCode; message?: string; fallback?: Fallback | undefined },
  ): RunOutcome {
    const report: SyncReport = {
      at: Date.now(),
      ok: result.ok,
      mode: result.mode ?? null,
      reason: result.reason ?? '',
      durationMs: Math.round(performance.now() - started),
      revision,
      configHash: result.ok ? hash : (this.report?.configHash ?? null),
      changeSeenAt: this.changeSeenAt,
      ...(result.code ? { code: result.code } : {}),
      ...(result.message ? { message: result.message } : {}),
      ...(result.fallback ? { fallback: result.fallback } : {}),
    };
    this.report = report;
    this.deps.observer?.onSynced?.(report, this.appliedState);
    this.log(report, hash);
    if (report.ok) {
      this.retry.reset();
      this.logRecovery(report.at);
      return {};
    }
    this.outage.failed(report.at, `${report.code ?? 'INTERNAL'}: ${report.message ?? ''}`);
    // The same input fails the same way; only a new change can fix a bad template or config.
    if (report.code === 'TEMPLATE_INVALID' || report.code === 'HAPROXY_CHECK_FAILED') return {};
    return { retryInMs: this.retry.next() };
  }

  private log(report: SyncReport, hash: string | null): void {
    const fields = { mode: report.mode, reason: report.reason, durationMs: report.durationMs, stagesMs: this.stages, configHash: hash, revision: report.revision, fallbackCode: report.fallback?.code };
    if (report.ok && report.mode === 'noop') this.deps.log.debug(fields, 'no change');
    else if (report.ok) this.deps.log.info(fields, `applied by ${report.mode}`);
    else this.deps.log.error({ ...fields, code: report.code, err: report.message }, 'apply failed; the last good config keeps serving');
  }

  private logRecovery(now: number): void {
    const end = this.outage.recovered(now);
    if (!end) return;
    this.deps.log.info(
      { outageMs: end.durationMs, failures: end.failures, lastError: end.lastError },
      `applies succeed again after ${formatDuration(end.durationMs)} (${end.failures} failed attempts; last ${end.lastError.split(':')[0]})`,
    );
  }

  /** Logs each problem once when it appears, not on every sync. */
  private noteProblems(problems: readonly Problem[]): void {
    this.currentProblems = problems;
    const keys = new Set<string>();
    for (const p of problems) {
      const key = `${p.code}|${p.source}|${p.message}`;
      keys.add(key);
      if (!this.loggedProblems.has(key)) this.deps.log.warn({ code: p.code, source: p.source, host: p.host }, p.message);
    }
    this.loggedProblems.clear();
    for (const k of keys) this.loggedProblems.add(k);
  }
}

// A noop sync reports the hash of files it did not render again; hashing 10,000 backends each time would cost more than the sync.
const hashes = new WeakMap<Rendered, string>();

export function configHash(rendered: Rendered): string {
  const cached = hashes.get(rendered);
  if (cached) return cached;
  const h = createHash('sha256').update(rendered.configDigest ?? rendered.config);
  for (const name of Object.keys(rendered.maps).sort()) h.update(`\0${name}\0${rendered.maps[name]}`);
  const hash = h.digest('hex').slice(0, 16);
  hashes.set(rendered, hash);
  return hash;
}

/** A socket that does not answer, or an answer not understood; never INTERNAL for what HAProxy did. */
function liveCode(err: unknown): ErrorCode {
  return errorCode(err) === 'HAPROXY_COMMAND_FAILED' ? 'HAPROXY_COMMAND_FAILED' : 'HAPROXY_UNREACHABLE';
}

function codeOf(err: unknown, fallback: ErrorCode): ErrorCode {
  const code = errorCode(err);
  return code in ERROR_CODES ? (code as ErrorCode) : fallback;
}
