/**
 * One Kubernetes resource, listed and watched so that it never goes stale or
 * silent. The client library's ListWatch does the list-then-watch protocol
 * and relists on 410 Gone, but it stops for good on most errors and never
 * notices a stream that stays open without delivering. So:
 *
 * - every error restarts it from a fresh kubeconfig and a fresh list, after a
 *   backoff of 1 s doubling to 30 s (reset once a watch delivers again);
 * - watches ask for bookmarks and a server-side timeout; a watch that brings
 *   no event and no bookmark for twice that timeout is stalled: dropped and
 *   replaced by a fresh list and watch;
 * - every list replaces the objects wholesale, so whatever was deleted while
 *   we were not watching disappears.
 *
 * The objects read last keep serving through all of it. Each is kept only as
 * the record `reduce` makes of it at receipt, in the client's cache as in
 * ours: a list's items and a watch event's object are dropped once read.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Backoff, sleep } from './backoff.ts';
import { LIST_PAGE_LIMIT, type ApiFailure, type Resource } from './kubernetes-api.ts';
import { SourceHealth, type SourceName } from './source.ts';

/** The least a kept record must have: the metadata keys and the client's cache read. */
export interface Keyed {
  readonly metadata: { readonly namespace?: string; readonly name?: string; readonly resourceVersion?: string };
}

export interface WatchedResourceOptions<T extends Keyed> {
  readonly resource: Resource;
  /** What is kept of each object received; must keep its namespace, name and resourceVersion. */
  readonly reduce: (o: KubernetesObject) => T;
  /** Loads the kubeconfig; throws with a message naming the file when it cannot. */
  readonly connect: () => KubeConfig;
  readonly describe: (err: unknown, kc: KubeConfig | null) => ApiFailure;
  /** Asked of the server for every watch; a watch silent for twice this long is stalled. */
  readonly watchTimeoutSeconds: number;
  readonly log: Logger;
  /** The source this resource belongs to, for its status (default "kubernetes"). */
  readonly sourceName?: SourceName;
}

/**
 * What changed in a resource's objects, keyed like the resource keys them
 * ("namespace/name"). Applied in the order given, these changes rebuild the
 * resource's object map exactly, insertion order included: "put" of a known
 * key keeps its place, "reset" replaces the whole map (a fresh list).
 */
export type ResourceChange<T> =
  | { readonly type: 'put'; readonly key: string; readonly object: T }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'reset'; readonly objects: readonly (readonly [string, T])[] };

/** How often the stall bound is checked. */
const STALL_CHECK_MS = 1000;

/**
 * How long a watch may bring nothing before it counts as stalled. kube-apiserver
 * sends a bookmark 2 s before it ends a watch at its timeout, so a healthy watch
 * brings something at least once per timeout; twice that leaves room for the
 * reconnect.
 */
export function stallBoundMs(watchTimeoutSeconds: number): number {
  return 2 * watchTimeoutSeconds * 1000;
}

export class WatchedResource<T extends Keyed> {
  readonly health: SourceHealth;
  private readonly opts: WatchedResourceOptions<T>;
  private readonly backoff = new Backoff(1000, 30000);
  private readonly abort = new AbortController();
  private objects = new Map<string, T>();
  /** Bumped for every attempt; callbacks of an older attempt are ignored (stop() makes them fire an AbortError). */
  private attempt = 0;
  private informer: ListWatch<T> | null = null;
  private watch: BoundedWatch | null = null;
  private heardAt = 0;
  private restarting = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private onChange: (change: ResourceChange<T>) => void = () => {};

  constructor(opts: WatchedResourceOptions<T>) {
    this.opts = opts;
    this.health = new SourceHealth(opts.sourceName ?? 'kubernetes', opts.log);
  }

  /** "endpointslices in namespace shop", "services (all namespaces)". */
  get label(): string {
    const r = this.opts.resource;
    return r.namespace === null ? `${r.kind} (all namespaces)` : `${r.kind} in namespace ${r.namespace}`;
  }

  get stallBoundMs(): number {
    return stallBoundMs(this.opts.watchTimeoutSeconds);
  }

  /** onChange hears every change to the objects; a listener that only needs to know that something changed can ignore the argument. */
  start(onChange: (change: ResourceChange<T>) => void): void {
    this.onChange = onChange;
    this.stallTimer = setInterval(() => this.checkStall(), STALL_CHECK_MS);
    this.stallTimer.unref();
    this.begin();
  }

  /** The objects as last read; kept through failures and restarts. */
  list(): T[] {
    return [...this.objects.values()];
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.stallTimer) clearInterval(this.stallTimer);
    await this.dropInformer();
  }

  private begin(): void {
    const attempt = ++this.attempt;
    this.restarting = false;
    // A fresh attempt gets a whole bound before it can count as stalled.
    this.heardAt = Date.now();
    let kc: KubeConfig;
    try {
      kc = this.opts.connect();
    } catch (err) {
      this.fail(attempt, err, null);
      return;
    }
    this.watch = new BoundedWatch(kc, this.opts.watchTimeoutSeconds, this.opts.reduce, () => this.heard(attempt, true));
    this.informer = this.informerFor(attempt, kc, this.watch);
    this.informer.start().catch((err: unknown) => this.fail(attempt, err, kc));
  }

  private informerFor(attempt: number, kc: KubeConfig, watch: BoundedWatch): ListWatch<T> {
    const { path, labelSelector, fieldSelector } = this.opts.resource;
    const informer = new ListWatch<T>(path, watch, () => this.relist(attempt, kc), false, labelSelector, fieldSelector, {
      delayFn: (ms) => sleep(ms, this.abort.signal),
    });
    informer.on('add', (o) => this.put(attempt, o));
    informer.on('update', (o) => this.put(attempt, o));
    informer.on('delete', (o) => this.remove(attempt, o));
    informer.on('error', (err) => this.fail(attempt, err, kc));
    return informer;
  }

  /** The list function handed to the ListWatch: also called by it after a 410 Gone. */
  private async relist(attempt: number, kc: KubeConfig): Promise<KubernetesListObject<T>> {
    const result = await this.listRecords(kc);
    if (attempt !== this.attempt) return result;
    const objects = new Map<string, T>();
    for (const o of result.items) objects.set(keyOf(o), o);
    this.objects = objects;
    this.health.synced = true;
    this.heard(attempt, false);
    this.onChange({ type: 'reset', objects: [...objects] });
    return result;
  }

  /**
   * The whole list, page by page, each page reduced to records before the
   * next is asked for. The ListWatch caches what it is handed: records, never
   * the listed objects. Every page is of the first page's snapshot; an
   * expired continue token fails the list, and the retry lists afresh.
   */
  private async listRecords(kc: KubeConfig): Promise<KubernetesListObject<T>> {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.opts.resource.list(kc, { limit: LIST_PAGE_LIMIT, _continue: token });
      for (const o of page.items) items.push(this.opts.reduce(o));
      resourceVersion = page.metadata?.resourceVersion;
      token = page.metadata?._continue || undefined;
    } while (token !== undefined && !this.abort.signal.aborted);
    return { metadata: { resourceVersion }, items };
  }

  private put(attempt: number, o: T): void {
    if (attempt !== this.attempt) return;
    const key = keyOf(o);
    this.objects.set(key, o);
    this.onChange({ type: 'put', key, object: o });
  }

  private remove(attempt: number, o: T): void {
    if (attempt !== this.attempt) return;
    const key = keyOf(o);
    if (this.objects.delete(key)) this.onChange({ type: 'delete', key });
  }

  /** Proof the server is alive and serving us; only data on a watch stream proves the watch works. */
  private heard(attempt: number, onWatch: boolean): void {
    if (attempt !== this.attempt) return;
    this.heardAt = Date.now();
    this.health.event();
    if (onWatch) this.backoff.reset();
  }

  private fail(attempt: number, err: unknown, kc: KubeConfig | null): void {
    if (attempt !== this.attempt || this.abort.signal.aborted) return;
    const failure = this.opts.describe(err, kc);
    const retryInMs = this.backoff.next();
    this.health.failed(failure.message);
    this.opts.log.error(
      { source: 'kubernetes', resource: this.label, code: failure.code, err: failure.message, retryInMs, restarts: this.health.restarts + 1 },
      'kubernetes list/watch failed; keeping the last data and retrying',
    );
    void this.restart(retryInMs);
  }

  private checkStall(): void {
    if (this.restarting || this.abort.signal.aborted) return;
    const silentMs = Date.now() - this.heardAt;
    if (silentMs <= this.stallBoundMs) return;
    const message = `no event and no bookmark for ${Math.round(silentMs / 1000)} s (bound ${this.stallBoundMs / 1000} s); listing afresh`;
    this.health.failed(message);
    this.opts.log.warn(
      { source: 'kubernetes', resource: this.label, code: 'SOURCE_STALLED', silentMs, boundMs: this.stallBoundMs, restarts: this.health.restarts + 1 },
      'kubernetes watch stalled; listing afresh',
    );
    void this.restart(0);
  }

  private async restart(delayMs: number): Promise<void> {
    this.restarting = true;
    this.health.restarted();
    await this.dropInformer();
    await sleep(delayMs, this.abort.signal);
    if (!this.abort.signal.aborted) this.begin();
  }

  private async dropInformer(): Promise<void> {
    this.attempt += 1;
    const informer = this.informer;
    this.watch?.close();
    this.informer = null;
    this.watch = null;
    await informer?.stop();
  }
}

/**
 * The client's Watch, asking for bookmarks and a server-side timeout, and
 * reporting every line that arrives (bookmarks included, which the
 * ListWatch swallows). Once closed it starts no new stream: a stopped
 * ListWatch may still try after its reconnect delay. The objects of added,
 * modified and deleted events reach the ListWatch as records; bookmarks and
 * errors pass as they came (the ListWatch reads their resourceVersion and code).
 */
class BoundedWatch extends Watch {
  private readonly timeoutSeconds: number;
  private readonly reduce: (o: KubernetesObject) => Keyed;
  private readonly onData: () => void;
  private closed = false;

  constructor(kc: KubeConfig, timeoutSeconds: number, reduce: (o: KubernetesObject) => Keyed, onData: () => void) {
    super(kc);
    this.timeoutSeconds = timeoutSeconds;
    this.reduce = reduce;
    this.onData = onData;
  }

  close(): void {
    this.closed = true;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.closed) return new AbortController();
    const query = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: this.timeoutSeconds };
    return super.watch(
      path,
      query,
      (phase, obj, raw) => {
        if (this.closed) return;
        this.onData();
        callback(phase, OBJECT_EVENTS.has(phase) ? this.reduce(obj as KubernetesObject) : obj, raw);
      },
      done,
    );
  }
}

const OBJECT_EVENTS: ReadonlySet<string> = new Set(['ADDED', 'MODIFIED', 'DELETED']);

function keyOf(o: Keyed): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}
