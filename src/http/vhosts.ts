/**
 * /v1/vhosts routes: what this node serves (HAProxy's view of every server
 * included), what the fleet reports, and the flip. Reads answer from this
 * node's applied state; the flip writes only to etcd (see fleet/flip.ts).
 */
import type { IncomingMessage } from 'node:http';
import { vhostsHealth, type BackendHealth, type VHostHealth } from '../core/health.ts';
import type { Problem, VHost, VHostTls } from '../core/model.ts';
import type { AppliedState } from '../core/plan.ts';
import { errorMessage } from '../errors.ts';
import type { FlipOutcome, Flipper } from '../fleet/flip.ts';
import { parseFlipRequest } from '../fleet/flip-request.ts';
import type { NodeStatus } from '../fleet/nodes.ts';
import type { ReadServerStats } from '../haproxy/server-stats.ts';
import type { SyncReport } from '../reconcile/reconciler.ts';
import { authorized } from './auth.ts';
import { readJsonBody } from './body.ts';
import { apiError, json, type Reply, type Route } from './server.ts';

/** How a flip request ended, for the flips_total{result} metric. */
export type FlipResult = 'ok' | 'conflict' | 'unhealthy' | 'timeout' | 'bad_request' | 'unauthorized' | 'not_found' | 'error';

export interface VHostsApiDeps {
  readonly node: string;
  /** null: no token configured (allowed on loopback only). */
  readonly token: string | null;
  readonly state: ServingState;
  readonly readStats: ReadServerStats;
  readonly readNodes: () => Promise<NodeStatus[]>;
  readonly flipper: Pick<Flipper, 'flip'>;
  /** This node's latest applies that changed something or failed, newest first. */
  readonly applies?: () => readonly SyncReport[];
  readonly onFlip?: (result: FlipResult) => void;
}

/** What the reconciler knows of what HAProxy runs. */
export interface ServingState {
  applied(): AppliedState | null;
  /** The applied state, or while it is unknown the last one known. */
  lastKnown(): AppliedState | null;
  /** Since when what HAProxy runs is unknown (ms since the epoch); null while known. */
  unknownSince(): number | null;
  problems(): readonly Problem[];
}

/** Whether what HAProxy runs is known; while it is not, the answer shows the last known state. */
export interface HaproxyKnowledge {
  readonly known: boolean;
  /** ISO time; null while known. */
  readonly unknownSince: string | null;
}

/** A vhost serving its last good version: since when, and the problem with its current etcd values. */
export interface LastGoodView {
  readonly since: string;
  readonly problem: Problem;
}

export function haproxyKnowledge(state: Pick<ServingState, 'unknownSince'>): HaproxyKnowledge {
  const since = state.unknownSince();
  return { known: since === null, unknownSince: since === null ? null : new Date(since).toISOString() };
}

export function lastGoodView(vhost: VHost | undefined): LastGoodView | null {
  return vhost?.lastGood ? { since: new Date(vhost.lastGood.since).toISOString(), problem: vhost.lastGood.problem } : null;
}

export interface BackendView extends BackendHealth {
  readonly live: boolean;
}

export interface VHostView {
  readonly host: string;
  /** The colour this node serves; null when the vhost is left out because of a problem. */
  readonly active: string | null;
  readonly revision: number | null;
  readonly backends: readonly BackendView[];
  readonly problems: readonly Problem[];
  /** Set while the vhost serves its last good version because its current etcd values are invalid. */
  readonly lastGood: LastGoodView | null;
  /** The certificate HTTPS serves for this host on this node; null when it is not served over HTTPS. */
  readonly certificate?: CertificateView | null;
  /** What every live node reports for this vhost. */
  readonly nodes: readonly { readonly node: string; readonly revision: number; readonly active: string | null; readonly certificateSerial?: string | null }[];
}

/** Facts about a served certificate; never any of its key. */
export interface CertificateView {
  readonly source: string;
  readonly serial: string;
  readonly names: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  /** Subjects of the chain sent after the leaf. */
  readonly chain: readonly string[];
  /** The certificate named now was refused; this last good one still serves. */
  readonly kept: boolean;
}

export interface VHostsView {
  readonly node: string;
  readonly revision: number;
  readonly haproxy: HaproxyKnowledge;
  readonly vhosts: readonly VHostView[];
  /** Problems not tied to one vhost (a bad static file, an invalid host key). */
  readonly problems: readonly Problem[];
  readonly nodes: readonly Omit<NodeStatus, 'vhosts'>[];
  /** Why part of the answer is missing (HAProxy or etcd unreachable). */
  readonly errors: readonly string[];
  readonly applies: readonly ApplyView[];
}

/** One apply of this node: how, why, how long, and the error when it failed. */
export interface ApplyView {
  readonly at: string;
  readonly ok: boolean;
  readonly mode: SyncReport['mode'];
  readonly reason: string;
  readonly durationMs: number;
  readonly revision: number;
  readonly code: string | null;
  readonly message: string | null;
}

export function vhostRoutes(deps: VHostsApiDeps): Route[] {
  const guard = (handler: Route['handler'], onRefused?: () => void): Route['handler'] => authorized(deps.token, handler, onRefused);
  return [
    { method: 'GET', path: /^\/v1\/vhosts\/?$/, handler: guard(async () => json(200, await vhostsView(deps))) },
    {
      method: 'GET',
      path: /^\/v1\/vhosts\/([^/]+)$/,
      handler: guard(async (_req, [host = '']) => {
        const view = await vhostsView(deps);
        const found = view.vhosts.find((v) => v.host === host.toLowerCase());
        return found ? json(200, { ...found, errors: view.errors }) : apiError(404, 'NOT_FOUND', `no vhost ${host} on node ${deps.node}`);
      }),
    },
    {
      method: 'POST',
      path: /^\/v1\/vhosts\/([^/]+)\/flip$/,
      handler: guard((req, [host = '']) => flipHandler(deps, req, host), () => deps.onFlip?.('unauthorized')),
    },
  ];
}

async function flipHandler(deps: VHostsApiDeps, req: IncomingMessage, host: string): Promise<Reply> {
  const counted = (result: FlipResult, reply: Reply): Reply => {
    deps.onFlip?.(result);
    return reply;
  };
  const body = await readJsonBody(req);
  if ('problem' in body) return counted('bad_request', apiError(400, 'BAD_REQUEST', body.problem, {}, body.unread ? { connection: 'close' } : undefined));
  const request = parseFlipRequest(body.text);
  if (typeof request === 'string') return counted('bad_request', apiError(400, 'BAD_REQUEST', request));
  let outcome: FlipOutcome;
  try {
    outcome = await deps.flipper.flip(host, request, req.socket.remoteAddress ?? 'unknown');
  } catch (err) {
    return counted('error', apiError(503, 'SOURCE_ERROR', `etcd did not answer, nothing is known to have been written: ${errorMessage(err)}`));
  }
  return counted(outcome.kind, replyFor(outcome));
}

function replyFor(o: FlipOutcome): Reply {
  switch (o.kind) {
    case 'ok':
      return json(200, { host: o.host, from: o.from, to: o.to, revision: o.revision, changed: o.changed, nodes: o.nodes });
    case 'timeout':
      return apiError(504, 'FLIP_UNCONFIRMED', o.message, { host: o.host, from: o.from, to: o.to, revision: o.revision, nodes: o.nodes });
    case 'not_found':
      return apiError(404, 'NOT_FOUND', o.message);
    case 'conflict':
      return apiError(409, 'FLIP_CONFLICT', o.message, { live: o.live });
    case 'unhealthy':
      return apiError(409, 'FLIP_UNHEALTHY', o.message, { failing: o.failing });
  }
}

export async function vhostsView(deps: VHostsApiDeps): Promise<VHostsView> {
  const applied = deps.state.lastKnown();
  const problems = deps.state.problems();
  const [read, fleet] = await Promise.all([deps.readStats(), fleetNodes(deps)]);
  const health = applied ? vhostsHealth(applied, read.stats) : [];
  const hosts = new Set([...health.map((v) => v.host), ...problems.flatMap((p) => (p.host ? [p.host] : []))]);
  const tls = new Map(applied?.view.https ? applied.desired.vhosts.map((v) => [v.host, v.tls ?? null]) : []);
  // By host, not found in a list for each host: at 10,000 vhosts that is 10^8 comparisons per request.
  const desired = new Map((applied?.desired.vhosts ?? []).map((v) => [v.host, v]));
  const healthOf = new Map(health.map((v) => [v.host, v]));
  const problemsOf = groupBy(problems, (p) => p.host ?? null);
  const vhosts = [...hosts].sort().map((host) => {
    const lastGood = lastGoodView(desired.get(host));
    return { ...vhostView(host, healthOf.get(host), problemsOf.get(host) ?? [], fleet.nodes, tls.get(host) ?? null), lastGood };
  });
  return {
    node: deps.node,
    revision: applied?.desired.revision ?? 0,
    haproxy: haproxyKnowledge(deps.state),
    vhosts,
    problems: problems.filter((p) => !p.host),
    nodes: fleet.nodes.map(({ vhosts: _, ...rest }) => rest),
    errors: [...(read.error ? [read.error] : []), ...(fleet.error ? [fleet.error] : [])],
    applies: (deps.applies?.() ?? []).map(applyView),
  };
}

function applyView(r: SyncReport): ApplyView {
  return {
    at: new Date(r.at).toISOString(),
    ok: r.ok,
    mode: r.mode,
    reason: r.reason,
    durationMs: r.durationMs,
    revision: r.revision,
    code: r.code ?? null,
    message: r.message ?? null,
  };
}

function vhostView(host: string, health: VHostHealth | undefined, hostProblems: readonly Problem[], nodes: readonly NodeStatus[], tls: VHostTls | null): Omit<VHostView, 'lastGood'> {
  return {
    host,
    active: health?.active ?? null,
    revision: health?.revision ?? null,
    backends: (health?.backends ?? []).map((b) => ({ ...b, live: b.colour === health?.active })),
    problems: hostProblems,
    certificate: tls && certificateView(tls),
    nodes: nodes.map((n) => ({ node: n.node, revision: n.revision, active: n.vhosts[host]?.active ?? null, certificateSerial: n.vhosts[host]?.certificateSerial ?? null })),
  };
}

function certificateView(tls: VHostTls): CertificateView {
  return {
    source: tls.source,
    serial: tls.leaf.serial,
    names: tls.leaf.names,
    notBefore: new Date(tls.leaf.notBefore).toISOString(),
    notAfter: new Date(tls.leaf.notAfter).toISOString(),
    chain: tls.chain,
    kept: tls.kept,
  };
}

async function fleetNodes(deps: VHostsApiDeps): Promise<{ nodes: NodeStatus[]; error: string | null }> {
  try {
    return { nodes: await deps.readNodes(), error: null };
  } catch (err) {
    return { nodes: [], error: `cannot read the node keys from etcd: ${errorMessage(err)}` };
  }
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
