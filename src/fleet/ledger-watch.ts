/**
 * Tells the ledger recorder of every write under `vhosts/`, one call per
 * vhost and revision. Unlike the etcd source, which only needs the latest
 * state, the ledger needs each write: after a broken watch it resumes from
 * the revision after the last one seen, so no flip in between is missed
 * (unless etcd compacted it away, which is logged).
 */
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.ts';
import { Backoff, sleep } from '../sources/backoff.ts';

export interface LedgerWatchOptions {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly log: Logger;
  readonly onWrite: (keyHost: string, revision: number) => void;
}

const CANCEL_WAIT_MS = 1000;

export class LedgerWatch {
  private readonly opts: LedgerWatchOptions;
  private readonly backoff = new Backoff(500, 30000);
  private readonly abort = new AbortController();
  private watcher: Watcher | null = null;
  private loop: Promise<void> | null = null;
  /** The newest revision handed on; the watch resumes after it. 0 until the first read. */
  private revision = 0;

  constructor(opts: LedgerWatchOptions) {
    this.opts = opts;
  }

  private get watchPrefix(): string {
    return `${this.opts.prefix}vhosts/`;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        if (this.revision > 0 && (await this.compactedPast(this.revision))) {
          this.opts.log.warn({ code: 'LEDGER_FAILED', revision: this.revision }, 'etcd compacted the writes the flip ledger had not seen; they are not recorded');
          this.revision = 0;
        }
        if (this.revision === 0) this.revision = Number((await this.opts.client.get(this.watchPrefix).exec()).header.revision);
        const reason = await this.watch();
        if (this.abort.signal.aborted) break;
        this.opts.log.warn({ code: 'LEDGER_FAILED', reason }, 'flip ledger watch ended; resuming');
      } catch (err) {
        if (this.abort.signal.aborted) break;
        this.opts.log.warn({ code: 'LEDGER_FAILED', err: errorMessage(err) }, 'flip ledger watch failed; resuming');
      }
      await this.close();
      await sleep(this.backoff.next(), this.abort.signal);
    }
    await this.close();
  }

  /**
   * Whether the revision after `revision` is gone. A watch created from a
   * compacted revision is refused by etcd at creation, and the client library
   * then mixes up this watch with the etcd source's if both are being created
   * at that moment, which crashes the process: so never ask for one.
   */
  private async compactedPast(revision: number): Promise<boolean> {
    try {
      await this.opts.client.get(this.watchPrefix).revision(revision + 1).exec();
      return false;
    } catch (err) {
      if (/compacted/i.test(errorMessage(err))) return true;
      throw err;
    }
  }

  private async watch(): Promise<string> {
    const creating = this.opts.client.watch().prefix(this.watchPrefix).startRevision(String(this.revision + 1)).create();
    // create() waits until etcd answers, which may be never; a stop must not wait for it.
    const stopped = new Promise<null>((resolve) => this.abort.signal.addEventListener('abort', () => resolve(null), { once: true }));
    const watcher = this.abort.signal.aborted ? null : await Promise.race([creating, stopped]);
    if (!watcher) {
      void creating.then((w) => w.cancel()).catch(() => {});
      return 'stopping';
    }
    this.watcher = watcher;
    this.backoff.reset();
    return new Promise<string>((resolve) => {
      watcher.on('data', (res) => {
        const seen = new Set<string>();
        for (const event of res.events) {
          const m = /^vhosts\/([^/]+)\/(spec|active)$/.exec(event.kv.key.toString('utf8').slice(this.opts.prefix.length));
          const revision = Number(event.kv.mod_revision);
          // A spec created now means the vhost served nothing before: no flip, and no need to read anything.
          if (m?.[2] === 'spec' && event.type === 'Put' && event.kv.create_revision === event.kv.mod_revision) continue;
          const id = `${m?.[1]}@${revision}`;
          if (!m?.[1] || seen.has(id)) continue;
          seen.add(id);
          this.opts.onWrite(m[1], revision);
        }
        this.revision = Math.max(this.revision, Number(res.header.revision));
      });
      watcher.on('disconnected', (err) => resolve(`disconnected: ${errorMessage(err)}`));
      watcher.on('error', (err) => {
        // A compacted start revision cannot be watched from; the writes in between are lost to the ledger.
        if (/compact/i.test(errorMessage(err))) this.revision = 0;
        resolve(`error: ${errorMessage(err)}`);
      });
      watcher.on('end', () => resolve('watch ended'));
      this.abort.signal.addEventListener('abort', () => resolve('stopping'), { once: true });
    });
  }

  private async close(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = null;
    if (!watcher) return;
    watcher.removeAllListeners();
    watcher.on('error', () => {});
    // On a stalled link etcd never confirms the cancel; closing the client ends the watch anyway.
    await Promise.race([watcher.cancel().catch(() => {}), sleep(CANCEL_WAIT_MS)]);
  }
}
