/**
 * How long something has been failing, so that its recovery can be logged
 * with the length of the outage. The caller passes the time: no clock here.
 */
export interface OutageEnd {
  readonly since: number;
  readonly durationMs: number;
  readonly failures: number;
  readonly lastError: string;
}

export class Outage {
  private since: number | null = null;
  private failures = 0;
  private lastError = '';

  failed(now: number, error: string): void {
    if (this.since === null) this.since = now;
    this.failures += 1;
    this.lastError = error;
  }

  /** The outage that a success ends, or null when nothing was failing. */
  recovered(now: number): OutageEnd | null {
    if (this.since === null) return null;
    const end = { since: this.since, durationMs: now - this.since, failures: this.failures, lastError: this.lastError };
    this.since = null;
    this.failures = 0;
    this.lastError = '';
    return end;
  }
}

/** "850 ms", "12.3 s", "4 min 5 s": for log messages a person reads. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
