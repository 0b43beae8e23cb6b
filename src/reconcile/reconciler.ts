/**
 * The one reconcile function. It reads every source's current snapshot,
 * computes the whole desired state, and applies the difference to HAProxy
 * the cheapest safe way. It never acts on an event's payload, so running it
 * twice, or late, is always correct.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { buildDesired } from '../core/desired.ts';
import { mergeCertificates } from '../core/tls.ts';
import { formatDuration, Outage } from '../core/outage.ts';
import type { CertificatesSnapshot, DesiredState, EtcdSnapshot, Problem, RenderSettings, Rendered, ServicesSnapshot, TemplatesSnapshot } from '../core/model.ts';
import { plan, type AppliedState, type RuntimeOp, type RuntimePlan, type Target } from '../core/plan.ts';
import { renderView, templateView } from '../core/render.ts';
import { layoutSlots, shrinkLayout, type Layout } from '../core/slots.ts';
import { ERROR_CODES, errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import type { ReloadOutcome } from '../haproxy/apply.ts';
import type { RuntimeOutcome, RuntimeTarget } from '../haproxy/runtime-apply.ts';
import { Backoff } from '../sources/backoff.ts';
import type { Source } from '../sources/source.ts';
import type { RunOutcome } from './trigger.ts';

export interface ReconcilerDeps {
  readonly etcd: Source<EtcdSnapshot>;
  readonly services: readonly Source<ServicesSnapshot>[];
  readonly templates: Source<TemplatesSnapshot>;
  /** Certificate sources (Secrets, files); none: vhosts naming a certificate are told no source is configured. */
  readonly certificates?: readonly Source<CertificatesSnapshot>[];
  readonly settings: RenderSettings;
  readonly reload: (rendered: Rendered) => Promise<ReloadOutcome>;
  /** Whether HAProxy already runs exactly these files (a restarted daemon then takes them over without a reload). */
  readonly runsAlready?: (rendered: Rendered) => Promise<boolean>;
  /** Applies runtime operations, writing the target's files; a failure here is followed by a reload. */
  readonly runtime: (ops: readonly RuntimeOp[], target: RuntimeTarget) => Promise<RuntimeOutcome>;
  readonly log: Logger;
  readonly observer?: ReconcileObserver;
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
}

/** Several observers as one, each told in turn. */
export function combineObservers(...observers: readonly ReconcileObserver[]): ReconcileObserver {
  return {
    onRender: (durationMs) => observers.forEach((o) => o.onRender?.(durationMs)),
    onSynced: (report, applied) => observers.forEach((o) => o.onSynced?.(report, applied)),
  };
}

export class Reconciler {
  private readonly deps: ReconcilerDeps;
  private readonly retry = new Backoff(1000, 30000);
  private readonly loggedProblems = new Set<string>();
  private readonly outage = new Outage();
  private appliedState: AppliedState | null = null;
  private report: SyncReport | null = null;
  private currentProblems: readonly Problem[] = [];
  private waitingFor: readonly string[] = ['first sync'];
  private changeSeenAt: number | null = null;

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
  }

  applied(): AppliedState | null {
    return this.appliedState;
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
    const desired = buildDesired(inputs.etcd, inputs.services, { certificates: inputs.certificates, nowMs: Date.now(), previous: this.appliedState?.desired ?? null });
    this.noteProblems(desired.problems);
    const spare = this.deps.settings.spareSlots;
    const backends = desired.vhosts.flatMap((v) => v.backends);
    const fitted = this.target(desired, layoutSlots(backends, spare, this.appliedState?.layout ?? null), inputs.templates);
    const p = plan(this.appliedState, fitted);
    if (p.mode === 'noop') return this.noop(fitted, started);
    // A reload rewrites every backend anyway: the moment to give back the free slots churn left behind.
    const target = p.mode === 'reload' ? this.target(desired, shrinkLayout(fitted.layout, spare), inputs.templates) : fitted;
    let rendered: Rendered;
    try {
      const renderStart = performance.now();
      rendered = renderView(target.view, desired, target.templates);
      this.deps.observer?.onRender?.(performance.now() - renderStart);
    } catch (err) {
      return this.finish(started, desired.revision, null, { ok: false, code: codeOf(err, 'TEMPLATE_INVALID'), message: errorMessage(err) });
    }
    const next: AppliedState = { ...target, rendered };
    return p.mode === 'runtime' ? this.applyRuntime(p, next, started) : this.applyReload(p.reason, next, started);
  }

  private target(desired: DesiredState, layout: Layout, templates: TemplatesSnapshot): Target {
    return { desired, layout, view: templateView(desired, layout, this.deps.settings), templates };
  }

  /** Nothing to send; the applied state still takes the new desired state (revisions, problems). */
  private noop(target: Target, started: number): RunOutcome {
    const rendered = this.appliedState?.rendered ?? null;
    this.appliedState = rendered && { ...target, rendered };
    const hash = rendered && configHash(rendered);
    return this.finish(started, target.desired.revision, hash, { ok: true, mode: 'noop', reason: 'HAProxy already runs this config' });
  }

  private async applyRuntime(p: RuntimePlan, next: AppliedState, started: number): Promise<RunOutcome> {
    const outcome = await this.deps.runtime(p.ops, next);
    if (outcome.ok) {
      this.appliedState = next;
      return this.finish(started, next.desired.revision, configHash(next.rendered), { ok: true, mode: 'runtime', reason: p.reason });
    }
    // Some commands may have landed: until a reload confirms the files, what HAProxy runs is not known.
    this.appliedState = null;
    this.deps.log.warn({ code: outcome.code, err: outcome.message, reason: p.reason }, 'Runtime API apply failed; falling back to a checked reload');
    const fallback = { code: outcome.code, message: outcome.message };
    return this.applyReload(`${p.reason} (by reload: the Runtime API apply failed)`, next, started, fallback);
  }

  private async applyReload(reason: string, next: AppliedState, started: number, fallback?: Fallback): Promise<RunOutcome> {
    if (this.appliedState === null && !fallback && (await this.takesOver(next.rendered))) {
      this.appliedState = next;
      return this.finish(started, next.desired.revision, configHash(next.rendered), { ok: true, mode: 'noop', reason: 'HAProxy already runs these files' });
    }
    const outcome = await this.deps.reload(next.rendered);
    if (outcome.ok) this.appliedState = next;
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
    const fields = { mode: report.mode, reason: report.reason, durationMs: report.durationMs, configHash: hash, revision: report.revision, fallbackCode: report.fallback?.code };
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
  const h = createHash('sha256').update(rendered.config);
  for (const name of Object.keys(rendered.maps).sort()) h.update(`\0${name}\0${rendered.maps[name]}`);
  const hash = h.digest('hex').slice(0, 16);
  hashes.set(rendered, hash);
  return hash;
}

function codeOf(err: unknown, fallback: ErrorCode): ErrorCode {
  const code = errorCode(err);
  return code in ERROR_CODES ? (code as ErrorCode) : fallback;
}
