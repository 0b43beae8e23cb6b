/**
 * Turns a stream of "something changed" pokes into sync runs: waits for
 * `debounceMs` of quiet, but never longer than `maxDelayMs` after the first
 * poke; never runs two syncs at once; a poke during a run causes exactly one
 * more run after it. A failed run can ask to be retried later.
 */
export interface TriggerOptions {
  readonly debounceMs: number;
  readonly maxDelayMs: number;
}

/** What a run returns: when to run again even if nothing changes (a retry after a failure). */
export interface RunOutcome {
  readonly retryInMs?: number;
}

export class Trigger {
  private readonly run: () => Promise<RunOutcome>;
  private readonly opts: TriggerOptions;
  private quietTimer: NodeJS.Timeout | null = null;
  private maxTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private dirty = false;
  private stopped = false;
  /** When the oldest change not yet applied was first seen (for sync latency). */
  private pendingSince: number | null = null;
  private dirtySince: number | null = null;

  constructor(run: () => Promise<RunOutcome>, opts: TriggerOptions) {
    this.run = run;
    this.opts = opts;
  }

  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      this.dirtySince ??= Date.now();
      return;
    }
    this.pendingSince ??= Date.now();
    this.schedule();
  }

  /** Time the oldest unapplied change was seen, for the sync-latency measure. */
  firstPendingAt(): number | null {
    return this.pendingSince;
  }

  /** Stops scheduling and waits for a run in flight to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    await this.running;
  }

  private schedule(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.fire(), this.opts.debounceMs);
    this.maxTimer ??= setTimeout(() => this.fire(), this.opts.maxDelayMs);
  }

  private fire(): void {
    this.clearTimers();
    if (this.stopped || this.running) return;
    this.dirty = false;
    this.running = this.run()
      .catch((): RunOutcome => ({ retryInMs: 1000 }))
      .then((outcome) => this.finished(outcome));
  }

  private finished(outcome: RunOutcome): void {
    this.running = null;
    const failed = outcome.retryInMs !== undefined;
    if (!failed) this.pendingSince = null;
    if (this.dirty) this.pendingSince ??= this.dirtySince;
    this.dirtySince = null;
    if (this.stopped) return;
    if (this.dirty) return this.schedule();
    if (outcome.retryInMs !== undefined) this.retryTimer = setTimeout(() => this.fire(), outcome.retryInMs);
  }

  private clearTimers(): void {
    for (const t of [this.quietTimer, this.maxTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.quietTimer = this.maxTimer = this.retryTimer = null;
  }
}
