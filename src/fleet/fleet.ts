/**
 * This daemon's part in the fleet: its node status key, the flip, the flip
 * ledger, and the /v1/vhosts routes, wired to the reconciler's applied state
 * and HAProxy's own view of server health.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { backendHealth } from '../core/health.ts';
import type { ReadServerStats } from '../haproxy/server-stats.ts';
import { historyRoutes } from '../http/history.ts';
import type { Route } from '../http/server.ts';
import { vhostRoutes, type FlipResult, type ServingState } from '../http/vhosts.ts';
import type { SyncReport } from '../reconcile/reconciler.ts';
import { Flipper, type TargetHealth } from './flip.ts';
import { LedgerRecorder } from './ledger-recorder.ts';
import { EtcdLedgerStore } from './ledger-store.ts';
import { LedgerWatch } from './ledger-watch.ts';
import type { AppliedState } from '../core/plan.ts';
import { NodeReporter, nodeStatusInSlices, readNodes, refreshIntervalMs, type NodeStatus } from './nodes.ts';

export interface FleetOptions {
  readonly node: string;
  readonly prefix: string;
  readonly client: Etcd3;
  readonly token: string | null;
  readonly state: ServingState;
  readonly readStats: ReadServerStats;
  readonly log: Logger;
  readonly onFlip?: (result: FlipResult) => void;
}

/** Applies listed in the API, newest first. */
const APPLIES_KEPT = 20;

export class Fleet {
  readonly routes: readonly Route[];
  private readonly opts: FleetOptions;
  private readonly reporter: NodeReporter;
  private readonly recorder: LedgerRecorder;
  private readonly ledgerWatch: LedgerWatch;
  private appliedAt: number | null = null;
  /** Servers HAProxy listed at the last read; the node status refresh slows down as they grow. */
  private servers = 0;
  /** The last status built and what it was built from: the same inputs give the same status, not built again. */
  private status: { status: NodeStatus; inputs: readonly unknown[] } | null = null;
  private readonly applies: SyncReport[] = [];

  constructor(opts: FleetOptions) {
    this.opts = opts;
    this.reporter = new NodeReporter({
      client: opts.client,
      prefix: opts.prefix,
      node: opts.node,
      log: opts.log,
      collect: (fresh) => this.collectStatus(fresh),
      refreshMs: () => refreshIntervalMs(this.servers),
    });
    const flipper = new Flipper({
      client: opts.client,
      prefix: opts.prefix,
      node: opts.node,
      selfRevision: () => opts.state.applied()?.desired.revision ?? 0,
      targetHealth: (host, colour, specRevision) => this.targetHealth(host, colour, specRevision),
    });
    const store = new EtcdLedgerStore(opts.client, opts.prefix);
    this.recorder = new LedgerRecorder({
      store,
      node: opts.node,
      log: opts.log,
      liveNodes: async () => (await readNodes(opts.client, opts.prefix)).map((n) => n.node),
    });
    this.ledgerWatch = new LedgerWatch({ client: opts.client, prefix: opts.prefix, log: opts.log, onWrite: (host, revision) => this.recorder.seen(host, revision) });
    const vhosts = vhostRoutes({
      node: opts.node,
      token: opts.token,
      state: opts.state,
      readStats: opts.readStats,
      readNodes: () => readNodes(opts.client, opts.prefix),
      flipper,
      applies: () => this.applies,
      ...(opts.onFlip ? { onFlip: opts.onFlip } : {}),
    });
    this.routes = [...vhosts, ...historyRoutes(opts.token, store)];
  }

  start(): void {
    this.reporter.start();
    this.ledgerWatch.start();
  }

  /** Called after every sync; a successful one changes what this node reports, and confirms the flips it applied. */
  synced(report: SyncReport): void {
    if (report.mode !== 'noop' || !report.ok) {
      this.applies.unshift(report);
      this.applies.splice(APPLIES_KEPT);
    }
    if (!report.ok) return;
    this.appliedAt = report.at;
    this.reporter.update();
    this.recorder.appliedRevision(report.revision, report.at);
  }

  /** Deletes this node's status key: a stopped node is no longer waited for. */
  async stop(): Promise<void> {
    await Promise.all([this.reporter.stop(), this.ledgerWatch.stop(), this.recorder.stop()]);
  }


  private async collectStatus(fresh: boolean): Promise<NodeStatus> {
    const read = await this.opts.readStats(fresh ? {} : { maxAgeMs: Infinity });
    this.servers = read.stats.size;
    const applied: AppliedState | null = this.opts.state.lastKnown();
    const unknownSince = this.opts.state.unknownSince();
    const inputs = [applied, read.version, this.appliedAt, unknownSince];
    if (this.status && inputs.every((input, i) => input === this.status?.inputs[i])) return this.status.status;
    const status = await nodeStatusInSlices(this.opts.node, applied, read.stats, this.appliedAt, unknownSince);
    this.status = { status, inputs };
    return status;
  }

  private async targetHealth(host: string, colour: string, specRevision: number): Promise<TargetHealth> {
    const applied = this.opts.state.applied();
    const backend = applied?.desired.vhosts.find((v) => v.host === host)?.backends.find((b) => b.colour === colour);
    if (!applied || !backend || applied.desired.revision < specRevision) {
      return { state: 'not-applied', reason: `node ${this.opts.node} has not applied the spec of ${host} (etcd revision ${specRevision}) yet, so its HAProxy has not checked ${colour}` };
    }
    const { stats, error } = await this.opts.readStats();
    return error ? { state: 'unknown', reason: error } : { state: 'known', health: backendHealth(backend, applied, stats) };
  }
}
