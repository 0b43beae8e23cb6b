/**
 * The one reconcile function. It reads every source's current snapshot,
 * computes the whole desired state, and applies the difference to HAProxy
 * the cheapest safe way. It never acts on an event's payload, so running it
 * twice, or late, is always correct.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { buildDesired } from '../core/desired.ts';
import type { EtcdSnapshot, Problem, RenderSettings, Rendered, ServicesSnapshot, TemplatesSnapshot } from '../core/model.ts';
import { plan, type AppliedState, type Plan, type Target } from '../core/plan.ts';
import { render } from '../core/render.ts';
import { layoutSlots } from '../core/slots.ts';
import { errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import type { ReloadOutcome } from '../haproxy/apply.ts';
import { Backoff } from '../sources/backoff.ts';
import type { Source } from '../sources/source.ts';
import type { RunOutcome } from './trigger.ts';

export interface ReconcilerDeps {
  readonly etcd: Source<EtcdSnapshot>;
  readonly services: readonly Source<ServicesSnapshot>[];
  readonly templates: Source<TemplatesSnapshot>;
  readonly settings: RenderSettings;
  readonly reload: (rendered: Rendered) => Promise<ReloadOutcome>;
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
    const inputs = this.gather();
    if (!inputs) return {};
    const desired = buildDesired(inputs.etcd, inputs.services);
    this.noteProblems(desired.problems);
    const backends = desired.vhosts.flatMap((v) => v.backends);
    const layout = layoutSlots(backends, this.deps.settings.spareSlots, this.appliedState?.layout ?? null);
    let rendered: Rendered;
    try {
      const renderStart = performance.now();
      rendered = render(desired, layout, this.deps.settings, inputs.templates);
      this.deps.observer?.onRender?.(performance.now() - renderStart);
    } catch (err) {
      return this.finish(started, desired.revision, null, { ok: false, code: codeOf(err, 'TEMPLATE_INVALID'), message: errorMessage(err) });
    }
    const target: Target = { desired, layout, rendered };
    return this.execute(plan(this.appliedState, target), target, started);
  }

  private async execute(p: Plan, target: Target, started: number): Promise<RunOutcome> {
    const hash = configHash(target.rendered);
    if (p.mode === 'noop') {
      this.appliedState = target;
      return this.finish(started, target.desired.revision, hash, { ok: true, mode: 'noop', reason: 'HAProxy already runs this config' });
    }
    const outcome = await this.deps.reload(target.rendered);
    if (outcome.ok) this.appliedState = target;
    const result = outcome.ok
      ? { ok: true, mode: 'reload' as const, reason: p.reason }
      : { ok: false, mode: 'reload' as const, reason: p.reason, code: outcome.code, message: outcome.message };
    return this.finish(started, target.desired.revision, hash, result);
  }

  private gather(): { etcd: EtcdSnapshot; services: ServicesSnapshot[]; templates: TemplatesSnapshot } | null {
    const etcd = this.deps.etcd.snapshot();
    const templates = this.deps.templates.snapshot();
    const services = this.deps.services.map((s) => s.snapshot());
    const waiting = [
      ...(etcd ? [] : ['etcd']),
      ...(templates ? [] : ['templates']),
      ...this.deps.services.filter((_, i) => !services[i]).map((s) => s.name),
    ];
    this.waitingFor = waiting;
    if (!etcd || !templates || waiting.length > 0) return null;
    return { etcd, templates, services: services.filter((s): s is ServicesSnapshot => s !== null) };
  }

  private finish(
    started: number,
    revision: number,
    hash: string | null,
    result: { ok: boolean; mode?: ApplyMode; reason?: string; code?: ErrorCode; message?: string },
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
    };
    this.report = report;
    this.deps.observer?.onSynced?.(report, this.appliedState);
    this.log(report, hash);
    if (report.ok) {
      this.retry.reset();
      return {};
    }
    // The same input fails the same way; only a new change can fix a bad template or config.
    if (report.code === 'TEMPLATE_INVALID' || report.code === 'HAPROXY_CHECK_FAILED') return {};
    return { retryInMs: this.retry.next() };
  }

  private log(report: SyncReport, hash: string | null): void {
    const fields = { mode: report.mode, reason: report.reason, durationMs: report.durationMs, configHash: hash, revision: report.revision };
    if (report.ok && report.mode === 'noop') this.deps.log.debug(fields, 'no change');
    else if (report.ok) this.deps.log.info(fields, `applied by ${report.mode}`);
    else this.deps.log.error({ ...fields, code: report.code, err: report.message }, 'apply failed; the last good config keeps serving');
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

export function configHash(rendered: Rendered): string {
  const h = createHash('sha256').update(rendered.config);
  for (const name of Object.keys(rendered.maps).sort()) h.update(`\0${name}\0${rendered.maps[name]}`);
  return h.digest('hex').slice(0, 16);
}

function codeOf(err: unknown, fallback: ErrorCode): ErrorCode {
  const code = errorCode(err);
  return code === 'INTERNAL' ? fallback : (code as ErrorCode);
}
