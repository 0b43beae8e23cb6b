/**
 * The flip ledger's data: one entry per change of a vhost's live colour,
 * stored in etcd under `history/<host>/<revision>`, and the intent an API
 * flip leaves beside its write (`flips/<host>`) so the entry can say why and
 * by whom. Pure: parsing, the key layout, and how an entry reads at a given
 * moment. Everything read back from etcd is validated, since anyone with
 * etcdctl can write there.
 */
import { parseSpec } from './spec.ts';
import { checkColour, checkHost } from './validate.ts';

export type FlipSource = 'api' | 'etcd';

export const MAX_REASON_CHARS = 200;
/** Entries kept per vhost; older ones are removed. */
export const LEDGER_KEEP = 100;
/** How long nodes have to serve a flip that came with no timeout of its own (an etcd write). */
export const DEFAULT_CONFIRM_MS = 5000;

/** What an API flip writes to `flips/<host>` in the same transaction as the active key. */
export interface FlipIntent {
  readonly to: string;
  readonly reason: string | null;
  readonly force: boolean;
  /** Who asked: the client's address and the node whose API took the request. */
  readonly actor: string;
  readonly timeoutMs: number;
}

export interface Confirmation {
  readonly node: string;
  /** ISO time the node served the flip (applied the revision it was written at, or a later one). */
  readonly at: string;
}

export interface LedgerEntry {
  readonly host: string;
  readonly from: string;
  readonly to: string;
  readonly revision: number;
  /** ISO time the first daemon saw the change. */
  readonly at: string;
  readonly source: FlipSource;
  readonly reason: string | null;
  /** Forced past the health gate; an etcd write never passes the gate at all, so it is false there. */
  readonly forced: boolean;
  readonly actor: string | null;
  readonly timeoutMs: number;
  /** The live nodes when the entry was written: the ones expected to confirm. */
  readonly expected: readonly string[];
  readonly confirmations: readonly Confirmation[];
}

export type NodeServing = 'served' | 'late' | 'waiting' | 'missed';

/** One node's part in an entry, as seen at some moment. */
export interface NodeConfirmationView {
  readonly node: string;
  readonly servedAt: string | null;
  /** served: within the timeout; late: after it; waiting: not yet, the timeout still runs; missed: not within the timeout. */
  readonly state: NodeServing;
}

export interface LedgerEntryView extends Omit<LedgerEntry, 'confirmations' | 'expected'> {
  readonly nodes: readonly NodeConfirmationView[];
}

export function historyPrefix(prefix: string, host?: string): string {
  return host === undefined ? `${prefix}history/` : `${prefix}history/${host}/`;
}

/** Zero-padded, so etcd's byte order of the keys is the order of the revisions. */
export function historyKey(prefix: string, host: string, revision: number): string {
  return `${historyPrefix(prefix, host)}${String(revision).padStart(20, '0')}`;
}

export function intentKey(prefix: string, host: string): string {
  return `${prefix}flips/${host}`;
}

/** null when fine; else what is wrong with a flip reason. */
export function checkReason(reason: string): string | null {
  if ([...reason].length > MAX_REASON_CHARS) return `must be at most ${MAX_REASON_CHARS} characters`;
  if (/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\u2028\u2029]/u.test(reason)) return 'must hold printable characters only (no newlines or control characters)';
  return null;
}

/** The colour a vhost serves given its two keys' values (undefined: key absent); null when it serves none. */
export function liveColour(spec: string | undefined, active: string | undefined): string | null {
  if (spec === undefined) return null;
  const parsed = parseSpec(spec);
  if (typeof parsed === 'string') return null;
  if (active === undefined) return parsed.default;
  const colour = active.trim();
  return checkColour(colour) === null && colour in parsed.backends ? colour : null;
}

/** Parses `flips/<host>`; null when it is not an intent this daemon wrote (anything else is ignored, not trusted). */
export function parseIntent(text: string): FlipIntent | null {
  const raw = parseObject(text);
  if (!raw) return null;
  const { to, reason, force, actor, timeoutMs } = raw;
  if (typeof to !== 'string' || checkColour(to) !== null) return null;
  if (reason !== null && (typeof reason !== 'string' || checkReason(reason) !== null)) return null;
  if (typeof force !== 'boolean' || typeof actor !== 'string' || actor.length > 200) return null;
  if (!isCount(timeoutMs)) return null;
  return { to, reason, force, actor, timeoutMs };
}

/** Parses a stored entry; a sentence saying what is wrong otherwise. */
export function parseEntry(text: string): LedgerEntry | string {
  const raw = parseObject(text);
  if (!raw) return 'not a JSON object';
  const { host, from, to, revision, at, source, reason, forced, actor, timeoutMs, expected, confirmations } = raw;
  if (typeof host !== 'string' || checkHost(host) !== null) return 'host: not a host name';
  for (const [field, value] of [['from', from], ['to', to]] as const) {
    if (typeof value !== 'string' || checkColour(value) !== null) return `${field}: not a colour`;
  }
  if (!isCount(revision)) return 'revision: not a revision';
  if (!isTime(at)) return 'at: not an ISO time';
  if (source !== 'api' && source !== 'etcd') return 'source: must be api or etcd';
  if (reason !== null && (typeof reason !== 'string' || checkReason(reason) !== null)) return 'reason: not a valid reason';
  if (typeof forced !== 'boolean') return 'forced: must be true or false';
  if (actor !== null && typeof actor !== 'string') return 'actor: must be a string or null';
  if (!isCount(timeoutMs)) return 'timeoutMs: not a number of milliseconds';
  if (!Array.isArray(expected) || !expected.every((n) => typeof n === 'string')) return 'expected: must be a list of node names';
  if (!Array.isArray(confirmations) || !confirmations.every(isConfirmation)) return 'confirmations: must be a list of {node, at}';
  return {
    host, from: from as string, to: to as string, revision, at, source, reason, forced, actor, timeoutMs,
    expected: expected as string[],
    confirmations: confirmations as Confirmation[],
  };
}

/** The entry with `node`'s confirmation; the same entry when it already has one. */
export function withConfirmation(entry: LedgerEntry, node: string, at: string): LedgerEntry {
  if (entry.confirmations.some((c) => c.node === node)) return entry;
  return { ...entry, confirmations: [...entry.confirmations, { node, at }].sort((a, b) => compare(a.node, b.node)) };
}

/** How an entry reads at `now` (ms since the epoch): each expected or confirming node and whether it served in time. */
export function entryView(entry: LedgerEntry, now: number): LedgerEntryView {
  const { confirmations, expected, ...rest } = entry;
  const deadline = Date.parse(entry.at) + entry.timeoutMs;
  const names = [...new Set([...expected, ...confirmations.map((c) => c.node)])].sort(compare);
  const nodes = names.map((node): NodeConfirmationView => {
    const servedAt = confirmations.find((c) => c.node === node)?.at ?? null;
    if (servedAt !== null) return { node, servedAt, state: Date.parse(servedAt) <= deadline ? 'served' : 'late' };
    return { node, servedAt, state: now <= deadline ? 'waiting' : 'missed' };
  });
  return { ...rest, nodes };
}

/** Of a vhost's entry keys, those beyond the newest `keep`. */
export function keysToTrim(keys: readonly string[], keep = LEDGER_KEEP): string[] {
  return [...keys].sort(compare).slice(0, Math.max(0, keys.length - keep));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const raw: unknown = JSON.parse(text);
    return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isTime(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value));
}

function isConfirmation(value: unknown): value is Confirmation {
  if (value === null || typeof value !== 'object') return false;
  const c = value as Record<string, unknown>;
  return typeof c['node'] === 'string' && isTime(c['at']);
}
