/** Time and timers behind a small interface, so the trigger's guarantees can be tested without real sleeps. */
export interface Clock {
  /** Milliseconds since the epoch (Date.now()), so times can be compared with those of log lines and metrics. */
  now(): number;
  /** Calls `fn` after `ms`; 0 means as soon as the I/O already waiting has been handled. */
  setTimeout(fn: () => void, ms: number): Timer;
}

export interface Timer {
  cancel(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // setTimeout(0) waits a whole millisecond or more; setImmediate runs right after pending I/O.
    if (ms <= 0) {
      const handle = setImmediate(fn);
      return { cancel: () => clearImmediate(handle) };
    }
    const handle = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(handle) };
  },
};
