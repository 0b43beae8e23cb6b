/**
 * etcd source: reads every key under <prefix>vhosts/ at one revision, then
 * watches from the next revision. Any watch failure (disconnect, compaction,
 * cancel, a watch that silently stopped delivering) leads to the same
 * recovery: re-read and re-watch, with backoff. The last snapshot keeps
 * serving meanwhile.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { EtcdEntry, EtcdSnapshot } from '../core/model.ts';
import { errorMessage } from '../errors.ts';
import { etcdEndpoints } from './etcd-client.ts';
import { describeEtcdError } from './etcd-errors.ts';
import { Backoff, sleep } from './backoff.ts';
import { SourceHealth, type Source, type SourceStatus } from './source.ts';

export interface EtcdSourceOptions {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly log: Logger;
  /** How often to compare the watched state with a fresh read, to catch a watch that went quiet. */
  readonly probeMs?: number;
}

export class EtcdSource implements Source<EtcdSnapshot> {
  readonly name = 'etcd';
  private readonly opts: EtcdSourceOptions;
  private readonly health: SourceHealth;
  private readonly backoff = new Backoff(500, 30000);
  private readonly abort = new AbortController();
  private entries = new Map<string, EtcdEntry>();
  private revision = 0;
  private current: EtcdSnapshot | null = null;
  private watcher: Watcher | null = null;
  private loop: Promise<void> | null = null;
  private onChange: () => void = () => {};

  constructor(opts: EtcdSourceOptions) {
    this.health = new SourceHealth('etcd', opts.log);
    this.opts = opts;
  }

  get watchPrefix(): string {
    return `${this.opts.prefix}vhosts/`;
  }

  start(onChange: () => void): void {
    this.onChange = onChange;
    this.loop = this.run();
  }

  snapshot(): EtcdSnapshot | null {
    return this.current;
  }

  status(): SourceStatus {
    return this.health.status();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.closeWatcher();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.readAll();
        const reason = await this.watch();
        if (this.abort.signal.aborted) break;
        this.opts.log.warn({ source: 'etcd', code: 'SOURCE_ERROR', reason }, 'etcd watch ended; re-reading and watching again');
      } catch (err) {
        if (this.abort.signal.aborted) break;
        const failure = describeEtcdError(err, etcdEndpoints(this.opts.client), 'SOURCE_ERROR');
        this.health.failed(failure.message);
        this.opts.log.error({ source: 'etcd', code: failure.code, err: failure.message }, 'etcd read failed; keeping the last data and retrying');
      }
      await this.closeWatcher();
      this.health.restarted();
      await sleep(this.backoff.next(), this.abort.signal);
    }
    await this.closeWatcher();
  }

  private async readAll(): Promise<void> {
    const res = await this.opts.client.getAll().prefix(this.watchPrefix).exec();
    const entries = new Map<string, EtcdEntry>();
    for (const kv of res.kvs) entries.set(this.relative(kv), entryOf(kv));
    this.entries = entries;
    this.revision = Number(res.header.revision);
    this.publish();
    this.health.synced = true;
    this.onChange();
  }

  /** Watches until the watch fails; resolves with the reason. */
  private async watch(): Promise<string> {
    const creating = this.opts.client.watch().prefix(this.watchPrefix).startRevision(String(this.revision + 1)).create();
    // create() waits until etcd answers, which may be never; a stop must not wait for it.
    const watcher = await untilAborted(creating, this.abort.signal);
    if (!watcher) {
      void creating.then((w) => w.cancel()).catch(() => {});
      return 'stopping';
    }
    this.watcher = watcher;
    this.backoff.reset();
    this.health.event();
    return new Promise<string>((resolve) => {
      const probe = setInterval(() => void this.probe().then((stale) => stale && finish(stale)), this.opts.probeMs ?? 30000);
      const onAbort = (): void => finish('stopping');
      // Every re-watch adds a listener to the one long-lived signal: it must go when its watch ends.
      const finish = (reason: string): void => {
        clearInterval(probe);
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve(reason);
      };
      watcher.on('data', (res) => {
        for (const event of res.events) this.applyEvent(event.type, event.kv);
        this.revision = Math.max(this.revision, Number(res.header.revision));
        this.publish();
        this.health.event();
        this.onChange();
      });
      watcher.on('disconnected', (err) => finish(`disconnected: ${errorMessage(err)}`));
      watcher.on('error', (err) => finish(`error: ${errorMessage(err)}`));
      watcher.on('end', () => finish('watch ended'));
      // stop() may have come while the watch was being created: the abort event is then long gone.
      if (this.abort.signal.aborted) finish('stopping');
      else this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private applyEvent(type: string | number, kv: IKeyValue): void {
    const key = this.relative(kv);
    if (type === 'Delete' || type === 1) this.entries.delete(key);
    else this.entries.set(key, entryOf(kv));
  }

  /**
   * A watch can stay connected yet stop delivering (a half-open connection,
   * a stuck proxy). Compare with a fresh read; a difference that persists
   * after in-flight events had time to arrive means the watch is stale.
   */
  private async probe(): Promise<string | null> {
    try {
      const res = await this.opts.client.getAll().prefix(this.watchPrefix).exec();
      const at = Number(res.header.revision);
      const differs = (): boolean => this.differsFrom(res.kvs, at);
      if (!differs()) return null;
      await sleep(2000, this.abort.signal);
      return differs() ? 'watch stopped delivering changes (a fresh read differs)' : null;
    } catch (err) {
      this.opts.log.debug({ source: 'etcd', err: errorMessage(err) }, 'etcd probe failed');
      return null;
    }
  }

  private differsFrom(kvs: IKeyValue[], at: number): boolean {
    const seen = new Set<string>();
    for (const kv of kvs) {
      const key = this.relative(kv);
      seen.add(key);
      const mine = this.entries.get(key);
      if (!mine || mine.modRevision < Number(kv.mod_revision)) return true;
    }
    for (const [key, entry] of this.entries) {
      if (!seen.has(key) && entry.modRevision <= at) return true;
    }
    return false;
  }

  private publish(): void {
    const entries: Record<string, EtcdEntry> = {};
    for (const [k, v] of this.entries) entries[k] = v;
    this.current = { prefix: this.opts.prefix, revision: this.revision, entries };
  }

  private relative(kv: IKeyValue): string {
    return kv.key.toString('utf8').slice(this.opts.prefix.length);
  }

  private async closeWatcher(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = null;
    if (!watcher) return;
    watcher.removeAllListeners();
    watcher.on('error', () => {});
    await watcher.cancel().catch(() => {});
  }
}

/** The promise's value, or null as soon as the signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(null);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function entryOf(kv: IKeyValue): EtcdEntry {
  return { value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) };
}
