/**
 * The one interface every source implements. A source only says "something
 * changed"; the reconciler then reads the current snapshot. A source never
 * throws out of its loop and never stops by itself: it reports, backs off and
 * retries, and keeps its last good snapshot meanwhile.
 */
import type { Logger } from 'pino';
import { formatDuration, Outage } from '../core/outage.ts';

export type SourceName = 'etcd' | 'kubernetes' | 'static' | 'templates' | 'kubernetes-secrets' | 'certificate-files';

export interface SourceStatus {
  readonly name: SourceName;
  /** Connected and watching now. */
  readonly up: boolean;
  /** Has completed a first full read: its snapshot can be rendered. */
  readonly synced: boolean;
  readonly restarts: number;
  readonly lastEventAt: number | null;
  readonly lastError: string | null;
}

export interface Source<S> {
  readonly name: SourceName;
  start(onChange: () => void): void;
  /** The current snapshot, or null before the first full read. */
  snapshot(): S | null;
  status(): SourceStatus;
  stop(): Promise<void>;
}

/** Bookkeeping every source shares for its status; with a logger, it also logs the end of each outage. */
export class SourceHealth {
  readonly name: SourceName;
  up = false;
  synced = false;
  restarts = 0;
  lastEventAt: number | null = null;
  lastError: string | null = null;
  private readonly outage = new Outage();
  private readonly log: Logger | undefined;

  constructor(name: SourceName, log?: Logger) {
    this.name = name;
    this.log = log;
  }

  event(): void {
    this.up = true;
    this.lastError = null;
    this.lastEventAt = Date.now();
    const end = this.outage.recovered(this.lastEventAt);
    if (end && this.log) {
      this.log.info(
        { source: this.name, outageMs: end.durationMs, failures: end.failures, lastError: end.lastError },
        `${this.name} source recovered after ${formatDuration(end.durationMs)} (${end.failures} failed attempts)`,
      );
    }
  }

  failed(message: string): void {
    this.up = false;
    this.lastError = message;
    this.outage.failed(Date.now(), message);
  }

  restarted(): void {
    this.restarts += 1;
  }

  status(): SourceStatus {
    return { name: this.name, up: this.up, synced: this.synced, restarts: this.restarts, lastEventAt: this.lastEventAt, lastError: this.lastError };
  }
}
