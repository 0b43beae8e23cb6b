/**
 * A flip: check, write, confirm. It reads the vhost's keys from etcd, refuses
 * an unknown colour, a failed `expect` or an unhealthy target, then writes
 * the active key in a transaction that succeeds only if neither key changed
 * since it was read, so of two concurrent flips exactly one wins. It never
 * touches HAProxy: every daemon, this one included, applies the flip from
 * its watch and reports the revision it applied in its node key, which is
 * what "confirmed" means.
 */
import type { Etcd3, IKeyValue } from 'etcd3';
import { healthGate, type BackendHealth, type ServerHealth } from '../core/health.ts';
import { intentKey, type FlipIntent } from '../core/ledger.ts';
import { parseSpec } from '../core/spec.ts';
import { checkHost, printable } from '../core/validate.ts';
import { errorMessage } from '../errors.ts';
import { sleep } from '../sources/backoff.ts';
import type { FlipRequest } from './flip-request.ts';
import { readNodes } from './nodes.ts';

export interface FlipDeps {
  readonly client: Etcd3;
  readonly prefix: string;
  /** This node: always waited for, even while its own status key is missing (a lease being re-granted). */
  readonly node: string;
  readonly selfRevision: () => number;
  /** HAProxy's view of a colour on this node, once it runs the spec at `specRevision`. */
  readonly targetHealth: (host: string, colour: string, specRevision: number) => Promise<TargetHealth>;
  readonly pollMs?: number;
  /** How long the health gate waits for servers HAProxy has not checked yet (default 5 s). */
  readonly pendingCheckMs?: number;
}

export type TargetHealth =
  | { readonly state: 'known'; readonly health: BackendHealth }
  /** This node has not applied that spec yet; it will shortly. */
  | { readonly state: 'not-applied'; readonly reason: string }
  /** HAProxy could not be asked. */
  | { readonly state: 'unknown'; readonly reason: string };

export interface NodeConfirmation {
  readonly node: string;
  readonly applied: boolean;
  readonly revision: number;
}

interface Written {
  readonly host: string;
  readonly from: string;
  readonly to: string;
  /** The etcd revision of the write (or, when the colour was already live, of the vhost's newest key). */
  readonly revision: number;
  readonly changed: boolean;
}

export type FlipOutcome =
  | ({ readonly kind: 'ok'; readonly nodes: readonly NodeConfirmation[] } & Written)
  | ({ readonly kind: 'timeout'; readonly message: string; readonly nodes: readonly NodeConfirmation[] } & Written)
  | { readonly kind: 'not_found'; readonly message: string }
  | { readonly kind: 'conflict'; readonly message: string; readonly live: string }
  | { readonly kind: 'unhealthy'; readonly message: string; readonly failing: readonly ServerHealth[] };

interface VHostKeys {
  readonly spec: IKeyValue;
  readonly active: IKeyValue | null;
  readonly colours: readonly string[];
  readonly live: string;
}

const POLL_MS = 50;
const PENDING_CHECK_MS = 5000;
const PENDING_POLL_MS = 200;

export class Flipper {
  private readonly deps: FlipDeps;

  constructor(deps: FlipDeps) {
    this.deps = deps;
  }

  /** `actor`: who asks (the client's address), for the flip ledger. */
  async flip(rawHost: string, req: FlipRequest, actor = 'unknown'): Promise<FlipOutcome> {
    const host = rawHost.toLowerCase();
    const hostProblem = checkHost(host);
    if (hostProblem) return { kind: 'not_found', message: `no such vhost: ${hostProblem}` };
    const keys = await this.read(host);
    if (typeof keys === 'string') return { kind: 'not_found', message: keys };
    if (!keys.colours.includes(req.to)) {
      return { kind: 'not_found', message: `"${req.to}" is not a colour of ${host} (colours: ${keys.colours.join(', ')})` };
    }
    if (req.expect !== null && req.expect !== keys.live) {
      return { kind: 'conflict', live: keys.live, message: `${host} is live on ${keys.live}, not ${req.expect} as expected; nothing was written` };
    }
    if (req.to === keys.live) {
      const revision = Math.max(Number(keys.spec.mod_revision), Number(keys.active?.mod_revision ?? 0));
      return this.confirm({ host, from: keys.live, to: req.to, revision, changed: false }, req);
    }
    if (!req.force) {
      const refusal = await this.gate(host, keys, req.to, req.timeoutMs);
      // A flip that won meanwhile (and the reload it caused) can fail the gate; the truer answer is the conflict.
      if (refusal) return (await this.changedSince(host, keys)) ? this.lost(host, keys) : refusal;
    }
    const revision = await this.write(host, keys, req, actor);
    if (revision === null) return this.lost(host, keys);
    return this.confirm({ host, from: keys.live, to: req.to, revision, changed: true }, req);
  }

  private lost(host: string, keys: VHostKeys): FlipOutcome {
    return {
      kind: 'conflict',
      live: keys.live,
      message: `${host} changed while this flip was being checked (another flip or an etcd write came first); nothing was written, re-read and retry`,
    };
  }

  private async changedSince(host: string, keys: VHostKeys): Promise<boolean> {
    const now = await this.read(host);
    return typeof now === 'string' || now.spec.mod_revision !== keys.spec.mod_revision || now.active?.mod_revision !== keys.active?.mod_revision;
  }

  private keyOf(host: string, leaf: 'spec' | 'active'): string {
    return `${this.deps.prefix}vhosts/${host}/${leaf}`;
  }

  private async read(host: string): Promise<VHostKeys | string> {
    const res = await this.deps.client.getAll().prefix(`${this.deps.prefix}vhosts/${host}/`).exec();
    const find = (leaf: 'spec' | 'active'): IKeyValue | null => res.kvs.find((kv) => kv.key.toString('utf8') === this.keyOf(host, leaf)) ?? null;
    const spec = find('spec');
    if (!spec) return `no such vhost: etcd has no key ${this.keyOf(host, 'spec')}`;
    const parsed = parseSpec(spec.value.toString('utf8'));
    if (typeof parsed === 'string') return `vhost ${host} is not served: etcd key ${this.keyOf(host, 'spec')}: ${parsed}`;
    const active = find('active');
    const live = active ? printable(active.value.toString('utf8').trim()) : parsed.default;
    return { spec, active, colours: Object.keys(parsed.backends), live };
  }

  /**
   * The gate judges this node's HAProxy, so it waits a little while for what
   * is about to change: a spec this node has not applied yet, and servers
   * HAProxy has not checked since it reloaded (it starts them UP and checks
   * them within one interval). Anything else is refused at once.
   */
  private async gate(host: string, keys: VHostKeys, colour: string, timeoutMs: number): Promise<FlipOutcome | null> {
    const deadline = Date.now() + Math.min(timeoutMs, this.deps.pendingCheckMs ?? PENDING_CHECK_MS);
    for (;;) {
      const judged = judge(host, colour, await this.deps.targetHealth(host, colour, Number(keys.spec.mod_revision)));
      if (judged === 'pass') return null;
      if (!judged.settling || Date.now() >= deadline) return judged.refusal;
      await sleep(PENDING_POLL_MS);
    }
  }

  /**
   * The compare-and-swap; null when either key changed since it was read.
   * The intent goes in the same transaction, so its mod revision tells the
   * ledger that this write came through the API, and why.
   */
  private async write(host: string, keys: VHostKeys, req: FlipRequest, actor: string): Promise<number | null> {
    const { client } = this.deps;
    const activeKey = this.keyOf(host, 'active');
    let txn = keys.active ? client.if(activeKey, 'Mod', '==', keys.active.mod_revision) : client.if(activeKey, 'Create', '==', 0);
    txn = txn.and(this.keyOf(host, 'spec'), 'Mod', '==', keys.spec.mod_revision);
    if (req.expect !== null && keys.active) txn = txn.and(activeKey, 'Value', '==', keys.active.value);
    const intent: FlipIntent = { to: req.to, reason: req.reason, force: req.force, actor: `${actor} via ${this.deps.node}`, timeoutMs: req.timeoutMs };
    const res = await txn.then(client.put(activeKey).value(req.to), client.put(intentKey(this.deps.prefix, host)).value(JSON.stringify(intent))).commit();
    return res.succeeded ? Number(res.header.revision) : null;
  }

  private async confirm(written: Written, req: FlipRequest): Promise<FlipOutcome> {
    if (!req.wait) return { kind: 'ok', ...written, nodes: (await this.nodes(written.revision)).nodes };
    const deadline = Date.now() + req.timeoutMs;
    for (;;) {
      const { nodes, error } = await this.nodes(written.revision);
      if (!error && nodes.every((n) => n.applied)) return { kind: 'ok', ...written, nodes };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout', ...written, nodes, message: unconfirmed(written, req.timeoutMs, nodes, error) };
      await sleep(Math.min(this.deps.pollMs ?? POLL_MS, left));
    }
  }

  /** Every live node and whether it has applied `revision`; this node counts even while its key is missing. */
  private async nodes(revision: number): Promise<{ nodes: NodeConfirmation[]; error: string | null }> {
    let live;
    try {
      live = await readNodes(this.deps.client, this.deps.prefix);
    } catch (err) {
      return { nodes: [], error: `cannot read the node keys from etcd: ${errorMessage(err)}` };
    }
    const nodes = live.map((n) => ({ node: n.node, revision: n.revision, applied: n.revision >= revision }));
    if (!nodes.some((n) => n.node === this.deps.node)) {
      const own = this.deps.selfRevision();
      nodes.push({ node: this.deps.node, revision: own, applied: own >= revision });
    }
    return { nodes, error: null };
  }
}

/** The gate's verdict on one look; `settling`: the answer may change within moments, so look again. */
function judge(host: string, colour: string, target: TargetHealth): 'pass' | { readonly refusal: FlipOutcome; readonly settling: boolean } {
  if (target.state !== 'known') {
    const refusal: FlipOutcome = { kind: 'unhealthy', failing: [], message: `cannot confirm that ${host} ${colour} is healthy: ${target.reason}` };
    return { refusal, settling: target.state === 'not-applied' };
  }
  const verdict = healthGate(host, target.health);
  if (verdict.ok) return 'pass';
  return { refusal: { kind: 'unhealthy', failing: verdict.failing, message: `${verdict.reason}; nothing was written (force skips this check)` }, settling: verdict.pending };
}

function unconfirmed(written: Written, timeoutMs: number, nodes: readonly NodeConfirmation[], error: string | null): string {
  const base = `${written.host} → ${written.to} was written at etcd revision ${written.revision}`;
  if (error) return `${base}, but could not be confirmed within ${timeoutMs} ms: ${error}`;
  const missing = nodes.filter((n) => !n.applied).map((n) => `${n.node} (at revision ${n.revision})`);
  return `${base}, but not confirmed within ${timeoutMs} ms by ${missing.join(', ')}`;
}
