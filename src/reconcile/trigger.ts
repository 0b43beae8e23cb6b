/**
 * Turns a stream of "something changed" pokes into sync runs.
 *
 * Leading edge: a poke after a quiet period (no run for `debounceMs`, none
 * scheduled) runs at once, so a lone flip waits for nothing. Pokes while a
 * run is in flight, or in the `debounceMs` after one, are coalesced: the
 * next run waits for `debounceMs` of quiet, but never longer than
 * `maxDelayMs` after the oldest unapplied poke. Never two runs at once; a
 * poke during a run causes exactly one more run after it. A failed run can
 * ask to be retried later.
 */
import { systemClock, type Clock, type Timer } from './clock.ts';

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
  private readonly clock: Clock;
  /** A run due at once (leading edge): later pokes in the same tick join it. */
  private soonTimer: Timer | null = null;
  private quietTimer: Timer | null = null;
  private maxTimer: Timer | null = null;
  private retryTimer: Timer | null = null;
  private running: Promise<void> | null = null;
  private lastRunEnd = Number.NEGATIVE_INFINITY;
  private dirty = false;
  private stopped = false;
  /** When the oldest change not yet applied was first seen (for sync latency). */
  private pendingSince: number | null = null;
  private dirtySince: number | null = null;

  constructor(run: () => Promise<RunOutcome>, opts: TriggerOptions, clock: Clock = systemClock) {
    this.run = run;
    this.opts = opts;
    this.clock = clock;
  }

  poke(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    if (this.running) {
      this.dirty = true;
      this.dirtySince ??= now;
      return;
    }
    this.pendingSince ??= now;
    if (this.soonTimer) return;
    const quiet = !this.quietTimer && now - this.lastRunEnd >= this.opts.debounceMs;
    if (quiet) this.soonTimer = this.clock.setTimeout(() => this.fire(), 0);
    else this.schedule();
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

  /** Trailing edge: `debounceMs` after the last poke, at the latest `maxDelayMs` after the oldest unapplied one. */
  private schedule(): void {
    const now = this.clock.now();
    this.quietTimer?.cancel();
    this.quietTimer = this.clock.setTimeout(() => this.fire(), this.opts.debounceMs);
    const since = this.pendingSince ?? now;
    this.maxTimer ??= this.clock.setTimeout(() => this.fire(), Math.max(0, since + this.opts.maxDelayMs - now));
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
    this.lastRunEnd = this.clock.now();
    const failed = outcome.retryInMs !== undefined;
    if (!failed) this.pendingSince = null;
    if (this.dirty) this.pendingSince ??= this.dirtySince;
    this.dirtySince = null;
    if (this.stopped) return;
    if (this.dirty) return this.schedule();
    if (outcome.retryInMs !== undefined) this.retryTimer = this.clock.setTimeout(() => this.fire(), outcome.retryInMs);
  }

  private clearTimers(): void {
    for (const t of [this.soonTimer, this.quietTimer, this.maxTimer, this.retryTimer]) t?.cancel();
    this.soonTimer = this.quietTimer = this.maxTimer = this.retryTimer = null;
  }
}
