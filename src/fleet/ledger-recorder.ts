/**
 * Keeps the flip ledger. Every daemon is told of each write under
 * `vhosts/` (by its ledger watch); when the write changed a vhost's live
 * colour, it tries to create the entry (one daemon wins), then adds its own
 * confirmation once it has applied that revision. A ledger write that fails
 * is logged (LEDGER_FAILED) and retried with backoff; it never touches the
 * flip itself, which HAProxy already serves or is about to.
 */
import type { Logger } from 'pino';
import { DEFAULT_CONFIRM_MS, type LedgerEntry } from '../core/ledger.ts';
import { errorMessage } from '../errors.ts';
import { Backoff } from '../sources/backoff.ts';
import type { LedgerStore } from './ledger-store.ts';

export interface LedgerRecorderOptions {
  readonly store: LedgerStore;
  readonly node: string;
  readonly log: Logger;
  /** The nodes live now, expected to confirm a new entry. */
  readonly liveNodes: () => Promise<string[]>;
  readonly now?: () => number;
  /** How long a ledger write is retried before it is given up (default 5 min). */
  readonly giveUpMs?: number;
}

type Job =
  | { readonly kind: 'record'; readonly keyHost: string; readonly revision: number; readonly since: number }
  | { readonly kind: 'confirm'; readonly host: string; readonly revision: number; readonly since: number };

/** Successful syncs remembered, so a confirmation carries the time the node first served a revision. */
const APPLIED_KEPT = 64;

export class LedgerRecorder {
  private readonly opts: LedgerRecorderOptions;
  private readonly retry = new Backoff(500, 10000);
  private readonly jobs: Job[] = [];
  /** Confirmations that wait for this node to apply their revision. */
  private readonly waiting: Job[] = [];
  private readonly applied: { revision: number; at: number }[] = [];
  private running: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(opts: LedgerRecorderOptions) {
    this.opts = opts;
  }

  /** A write under vhosts/ at `revision` touched `keyHost` (the host as spelt in the key). */
  seen(keyHost: string, revision: number): void {
    this.enqueue({ kind: 'record', keyHost, revision, since: this.now() });
  }

  /** This node now serves what etcd held at `revision`. */
  appliedRevision(revision: number, at: number): void {
    if (this.applied.length > 0 && (this.applied.at(-1)?.revision ?? 0) >= revision) return;
    this.applied.push({ revision, at });
    if (this.applied.length > APPLIED_KEPT) this.applied.shift();
    const ready = this.waiting.filter((j) => j.revision <= revision);
    if (ready.length === 0) return;
    this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((j) => j.revision > revision));
    for (const job of ready) this.enqueue(job);
  }

  /** Resolves once every queued ledger write has been done or has failed once (tests and a clean stop). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private enqueue(job: Job): void {
    if (this.stopped) return;
    this.jobs.push(job);
    this.kick();
  }

  private kick(): void {
    if (this.running || this.retryTimer || this.stopped) return;
    this.running = this.drain().finally(() => {
      this.running = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.jobs.length > 0 && !this.stopped) {
      const job = this.jobs[0]!;
      try {
        await this.run(job);
        this.retry.reset();
      } catch (err) {
        if (this.stopped) return;
        if (this.giveUp(job, err)) {
          this.jobs.shift();
          continue;
        }
        this.opts.log.warn(
          { code: 'LEDGER_FAILED', host: 'host' in job ? job.host : job.keyHost, revision: job.revision, err: errorMessage(err) },
          'could not write the flip ledger; the flip stands, retrying the ledger write',
        );
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.kick();
        }, this.retry.next());
        return;
      }
      this.jobs.shift();
    }
  }

  private giveUp(job: Job, err: unknown): boolean {
    if (this.now() - job.since < (this.opts.giveUpMs ?? 300_000)) return false;
    this.opts.log.error(
      { code: 'LEDGER_FAILED', host: 'host' in job ? job.host : job.keyHost, revision: job.revision, err: errorMessage(err) },
      'gave up writing the flip ledger; this flip may be missing from it',
    );
    return true;
  }

  private async run(job: Job): Promise<void> {
    if (job.kind === 'record') return this.record(job.keyHost, job.revision, job.since);
    const servedAt = this.applied.find((a) => a.revision >= job.revision)?.at;
    if (servedAt === undefined) {
      this.waiting.push(job);
      return;
    }
    const found = await this.opts.store.confirm(job.host, job.revision, this.opts.node, new Date(servedAt).toISOString());
    if (!found) this.opts.log.debug({ host: job.host, revision: job.revision }, 'no ledger entry to confirm (trimmed, or not written)');
  }

  private async record(keyHost: string, revision: number, seenAt: number): Promise<void> {
    const flip = await this.opts.store.flipAt(keyHost, revision);
    if (!flip) return;
    const { intent } = flip;
    const entry: LedgerEntry = {
      host: flip.host,
      from: flip.from,
      to: flip.to,
      revision,
      at: new Date(seenAt).toISOString(),
      source: intent ? 'api' : 'etcd',
      reason: intent?.reason ?? null,
      forced: intent?.force ?? false,
      actor: intent?.actor ?? null,
      timeoutMs: intent?.timeoutMs ?? DEFAULT_CONFIRM_MS,
      expected: [...new Set([...(await this.opts.liveNodes()), this.opts.node])].sort(),
      confirmations: [],
    };
    if (await this.opts.store.create(entry)) {
      this.opts.log.info({ host: entry.host, from: entry.from, to: entry.to, revision, source: entry.source }, 'flip recorded in the ledger');
      await this.opts.store.trim(entry.host);
    }
    this.enqueue({ kind: 'confirm', host: flip.host, revision, since: this.now() });
  }
}
