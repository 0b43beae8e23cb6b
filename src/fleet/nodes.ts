/**
 * Node status in etcd: each daemon keeps `<prefix>nodes/<node>` up to date
 * with what its HAProxy runs, bound to a lease that it keeps alive. A daemon
 * that dies stops the keepalives and its key expires with the lease; a clean
 * stop deletes it. Flips wait on these keys, so "live node" means "has a key".
 *
 * The etcd source watches only `<prefix>vhosts/`, so these writes never
 * trigger a sync anywhere.
 */
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from 'pino';
import { setImmediate } from 'node:timers/promises';
import { vhostHealth, type ServerStats } from '../core/health.ts';
import type { VHost } from '../core/model.ts';
import type { AppliedState } from '../core/plan.ts';
import { errorMessage } from '../errors.ts';
import { etcdEndpoints } from '../sources/etcd-client.ts';
import { describeEtcdError } from '../sources/etcd-errors.ts';
import { configHash } from '../reconcile/reconciler.ts';
import { Backoff } from '../sources/backoff.ts';

export interface NodeVHostStatus {
  readonly active: string;
  /** Serial of the certificate HTTPS serves for the host; absent when it is not served over HTTPS. */
  readonly certificateSerial?: string;
  readonly servers: Readonly<Record<string, { readonly up: number; readonly total: number }>>;
  /** Set while the vhost serves its last good version: since when (ISO) and the problem code. */
  readonly lastGood?: { readonly since: string; readonly code: string };
}

export interface NodeStatus {
  readonly node: string;
  /** The etcd revision the applied desired state was built from; 0 before the first apply. */
  readonly revision: number;
  readonly configHash: string | null;
  /** ISO time of the last successful sync, null before the first. */
  readonly appliedAt: string | null;
  /** Whether the node knows what its HAProxy runs; while it does not, the rest is the last known state. */
  readonly haproxy?: { readonly known: boolean; readonly unknownSince: string | null };
  readonly vhosts: Readonly<Record<string, NodeVHostStatus>>;
}

export const DEFAULT_LEASE_TTL_SECONDS = 10;
export const DEFAULT_REFRESH_MS = 2000;

export function nodesPrefix(prefix: string): string {
  return `${prefix}nodes/`;
}

export function nodeKey(prefix: string, node: string): string {
  return `${nodesPrefix(prefix)}${node}`;
}

/** This node's status from what it applied and HAProxy's current view of server health. */
/** `applied`: the last known applied state; `unknownSince`: set while what HAProxy runs is not known. */
export function nodeStatusOf(node: string, applied: AppliedState | null, stats: ServerStats, appliedAt: number | null, unknownSince: number | null = null): NodeStatus {
  const vhosts: Record<string, NodeVHostStatus> = {};
  for (const v of applied?.desired.vhosts ?? []) vhosts[v.host] = vhostStatusOf(v, applied as AppliedState, stats);
  return statusWith(node, applied, appliedAt, unknownSince, vhosts);
}

/** Vhosts done per turn of the event loop by nodeStatusInSlices. */
const VHOSTS_PER_SLICE = 500;

/**
 * nodeStatusOf, a slice of vhosts at a time with the event loop free in
 * between: at 10,000 vhosts and 280,000 servers, one go would hold it for
 * longer than the API and the etcd lease keepalives can wait.
 */
export async function nodeStatusInSlices(node: string, applied: AppliedState | null, stats: ServerStats, appliedAt: number | null, unknownSince: number | null = null): Promise<NodeStatus> {
  const vhosts: Record<string, NodeVHostStatus> = {};
  const all = applied?.desired.vhosts ?? [];
  for (let i = 0; i < all.length; i++) {
    if (i > 0 && i % VHOSTS_PER_SLICE === 0) await setImmediate();
    const v = all[i] as VHost;
    vhosts[v.host] = vhostStatusOf(v, applied as AppliedState, stats);
  }
  return statusWith(node, applied, appliedAt, unknownSince, vhosts);
}

function vhostStatusOf(vhost: VHost, applied: AppliedState, stats: ServerStats): NodeVHostStatus {
  const servers: Record<string, { up: number; total: number }> = {};
  for (const b of vhostHealth(vhost, applied, stats).backends) servers[b.colour] = { up: b.up, total: b.ready };
  const mark = vhost.lastGood;
  const serial = applied.view.https ? vhost.tls?.leaf.serial : undefined;
  return {
    active: vhost.active,
    servers,
    ...(serial ? { certificateSerial: serial } : {}),
    ...(mark ? { lastGood: { since: new Date(mark.since).toISOString(), code: mark.problem.code } } : {}),
  };
}

function statusWith(node: string, applied: AppliedState | null, appliedAt: number | null, unknownSince: number | null, vhosts: Record<string, NodeVHostStatus>): NodeStatus {
  return {
    node,
    revision: applied?.desired.revision ?? 0,
    configHash: applied ? configHash(applied.rendered) : null,
    appliedAt: appliedAt === null ? null : new Date(appliedAt).toISOString(),
    haproxy: { known: unknownSince === null, unknownSince: unknownSince === null ? null : new Date(unknownSince).toISOString() },
    vhosts,
  };
}

/**
 * How often the node status is re-read from HAProxy: every 2 s up to 20,000
 * servers, then 1 s more per 10,000 (28 s at 280,000). Each read of `show
 * stat` costs HAProxy and this process in proportion to the servers; a sync
 * publishes at once whatever the interval.
 */
export function refreshIntervalMs(servers: number): number {
  return Math.max(DEFAULT_REFRESH_MS, Math.ceil(servers / 10_000) * 1000);
}

/** Every live node's status. A key that does not parse is returned as a node at revision 0, so it is seen, not hidden. */
export async function readNodes(client: Etcd3, prefix: string): Promise<NodeStatus[]> {
  const res = await client.getAll().prefix(nodesPrefix(prefix)).exec();
  return res.kvs
    .map((kv) => parseNodeStatus(kv.key.toString('utf8').slice(nodesPrefix(prefix).length), kv.value.toString('utf8')))
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/** Validates a status read back from etcd: another process (or a person) may have written anything there. */
export function parseNodeStatus(keyName: string, text: string): NodeStatus {
  const unparsed: NodeStatus = { node: keyName, revision: 0, configHash: null, appliedAt: null, vhosts: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return unparsed;
  }
  if (!isRecord(raw) || typeof raw['revision'] !== 'number' || !Number.isSafeInteger(raw['revision'])) return unparsed;
  return {
    node: keyName,
    revision: raw['revision'],
    configHash: typeof raw['configHash'] === 'string' ? raw['configHash'] : null,
    appliedAt: typeof raw['appliedAt'] === 'string' ? raw['appliedAt'] : null,
    ...parseHaproxy(raw['haproxy']),
    vhosts: parseVHosts(raw['vhosts']),
  };
}

function parseVHosts(value: unknown): Record<string, NodeVHostStatus> {
  const out: Record<string, NodeVHostStatus> = {};
  if (!isRecord(value)) return out;
  for (const [host, v] of Object.entries(value)) {
    if (!isRecord(v) || typeof v['active'] !== 'string') continue;
    const servers: Record<string, { up: number; total: number }> = {};
    for (const [colour, s] of Object.entries(isRecord(v['servers']) ? v['servers'] : {})) {
      if (isRecord(s) && typeof s['up'] === 'number' && typeof s['total'] === 'number') servers[colour] = { up: s['up'], total: s['total'] };
    }
    const lg = v['lastGood'];
    const lastGood = isRecord(lg) && typeof lg['since'] === 'string' && typeof lg['code'] === 'string' ? { lastGood: { since: lg['since'], code: lg['code'] } } : {};
    const serial = v['certificateSerial'];
    const certificate = typeof serial === 'string' && /^[0-9A-F]{1,64}$/.test(serial) ? { certificateSerial: serial } : {};
    out[host] = { active: v['active'], servers, ...certificate, ...lastGood };
  }
  return out;
}

function parseHaproxy(value: unknown): Pick<NodeStatus, 'haproxy'> {
  if (!isRecord(value) || typeof value['known'] !== 'boolean') return {};
  return { haproxy: { known: value['known'], unknownSince: typeof value['unknownSince'] === 'string' ? value['unknownSince'] : null } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface NodeReporterOptions {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly node: string;
  readonly log: Logger;
  /**
   * Reads the current status (HAProxy's view included); called on every
   * update. `fresh`: HAProxy's view must be read now (the periodic refresh);
   * otherwise (after a sync) a recent one will do, so a sync is published
   * without waiting for it. Returning the very object of the previous call
   * means "unchanged", and it is not serialized again.
   */
  readonly collect: (fresh: boolean) => Promise<NodeStatus>;
  readonly ttlSeconds?: number;
  /** How often HAProxy's view is re-read: server health changes without any sync. Asked again after each refresh. */
  readonly refreshMs?: number | (() => number);
}

/**
 * Publishes the node status: after each sync (update()), every refreshMs,
 * and after a lost lease. Writes only when the status changed or the lease
 * is new, so a quiet fleet does not churn etcd revisions. Updates never run
 * concurrently; one asked for during a write runs right after it.
 */
export class NodeReporter {
  private readonly opts: NodeReporterOptions;
  private readonly key: string;
  private readonly retry = new Backoff(500, 10000);
  private lease: Lease | null = null;
  private written: { text: string; lease: Lease } | null = null;
  private collected: { status: NodeStatus; text: string } | null = null;
  private running: Promise<void> | null = null;
  private dirty = false;
  private freshDue = false;
  private stopped = false;
  private refreshTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(opts: NodeReporterOptions) {
    this.opts = opts;
    this.key = nodeKey(opts.prefix, opts.node);
  }

  start(): void {
    this.refresh();
  }

  /** A fresh read now, and the next one after the refresh interval. */
  private refresh(): void {
    if (this.stopped) return;
    this.freshDue = true;
    this.update();
    const every = this.opts.refreshMs ?? DEFAULT_REFRESH_MS;
    this.refreshTimer = setTimeout(() => this.refresh(), typeof every === 'number' ? every : every());
  }

  update(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = this.publishUntilClean().finally(() => {
      this.running = null;
    });
  }

  /** Stops publishing, deletes the key and revokes the lease; a failure is logged, the lease then expires by itself. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.refreshTimer, this.retryTimer]) if (timer) clearTimeout(timer);
    await this.running;
    const lease = this.lease;
    this.lease = null;
    try {
      await this.opts.client.delete().key(this.key);
      await lease?.revoke();
    } catch (err) {
      this.opts.log.warn({ code: 'NODE_STATUS_FAILED', key: this.key, err: errorMessage(err) }, 'could not delete the node status key; it expires with its lease');
      lease?.release();
    }
  }

  private async publishUntilClean(): Promise<void> {
    do {
      this.dirty = false;
      await this.publishOnce();
    } while (this.dirty && !this.stopped);
  }

  private async publishOnce(): Promise<void> {
    try {
      const fresh = this.freshDue;
      this.freshDue = false;
      const text = this.serialized(await this.opts.collect(fresh));
      if (this.stopped) return;
      const lease = this.currentLease();
      if (this.written?.text === text && this.written.lease === lease) return;
      await lease.put(this.key).value(text);
      this.written = { text, lease };
      this.retry.reset();
    } catch (err) {
      if (this.stopped) return;
      const failure = describeEtcdError(err, etcdEndpoints(this.opts.client), 'NODE_STATUS_FAILED');
      this.opts.log.warn({ code: failure.code, key: this.key, err: failure.message }, 'could not write the node status to etcd; retrying');
      this.retryLater();
    }
  }

  private serialized(status: NodeStatus): string {
    if (this.collected?.status !== status) this.collected = { status, text: JSON.stringify(status) };
    return this.collected.text;
  }

  private currentLease(): Lease {
    if (this.lease) return this.lease;
    const lease = this.opts.client.lease(this.opts.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS);
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      this.lease = null;
      if (this.stopped) return;
      // Granting a lease while etcd is down "loses" it at once: that is etcd being unreachable, not a lease that expired.
      const failure = describeEtcdError(err, etcdEndpoints(this.opts.client), 'NODE_STATUS_FAILED');
      const what = failure.code === 'ETCD_UNREACHABLE' ? 'could not keep the node status lease' : 'node status lease lost';
      this.opts.log.warn({ code: failure.code, key: this.key, err: failure.message }, `${what}; granting a new one`);
      this.retryLater();
    });
    this.lease = lease;
    return lease;
  }

  /** Through a timer, never directly: a lease lost while etcd is down must not spin granting new ones. */
  private retryLater(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.update();
    }, this.retry.next());
  }
}
