/**
 * A clock that moves only when a test says so. Timers fire in due order as
 * `advance()` passes them, and the promise callbacks they start are settled
 * before the next one fires, so code under test behaves as with real time,
 * minus the waiting and the flakiness.
 */
import type { Clock, Timer } from '../../src/reconcile/clock.ts';

interface Pending {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers = new Set<Pending>();

  constructor(start = 1_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer: Pending = { due: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return { cancel: () => void this.timers.delete(timer) };
  }

  /** A promise that resolves after `ms` of this clock's time (a run that takes a while). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Timers not yet fired. */
  pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (those due now included). */
  async advance(ms = 0): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.timers.delete(next);
      this.current = next.due;
      next.fn();
      await settle();
    }
    this.current = target;
  }

  private earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const t of this.timers) if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    return best;
  }
}

/** Lets every promise callback already queued run (setImmediate comes after the microtask queue drains). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
