/**
 * The flip ledger in etcd. Entries live under `history/<host>/<revision>`;
 * every daemon tries to create the entry of a flip it sees, and a
 * create-if-absent transaction lets exactly one succeed. Confirmations are
 * added with compare-and-swap on the entry's mod revision, since up to every
 * node in the fleet adds one at about the same moment.
 */
import type { Etcd3 } from 'etcd3';
import {
  historyKey,
  historyPrefix,
  intentKey,
  keysToTrim,
  liveColour,
  parseEntry,
  parseIntent,
  withConfirmation,
  type FlipIntent,
  type LedgerEntry,
} from '../core/ledger.ts';

/** A change of live colour found at one revision, with the API's intent when the flip came through it. */
export interface FlipFound {
  readonly host: string;
  readonly from: string;
  readonly to: string;
  readonly revision: number;
  readonly intent: FlipIntent | null;
}

export interface LedgerStore {
  /** The change of `host`'s live colour made at `revision`, or null when that revision did not change it. */
  flipAt(keyHost: string, revision: number): Promise<FlipFound | null>;
  /** Creates the entry unless one exists for its revision; true when this call created it. */
  create(entry: LedgerEntry): Promise<boolean>;
  /** Adds `node`'s confirmation; false when the entry is not there (removed as too old, or not written yet). */
  confirm(host: string, revision: number, node: string, at: string): Promise<boolean>;
  /** Removes all but the newest LEDGER_KEEP entries of `host`. */
  trim(host: string): Promise<void>;
  /** The newest `limit` entries of `host`, newest first, and a sentence for each that does not parse. */
  list(host: string, limit: number): Promise<{ entries: LedgerEntry[]; unreadable: string[] }>;
}

/** Confirmations racing on one entry: every node of a fleet may add one at once. */
const CAS_ATTEMPTS = 20;

export class EtcdLedgerStore implements LedgerStore {
  private readonly client: Etcd3;
  private readonly prefix: string;

  constructor(client: Etcd3, prefix: string) {
    this.client = client;
    this.prefix = prefix;
  }

  async flipAt(keyHost: string, revision: number): Promise<FlipFound | null> {
    const [before, after] = await Promise.all([this.vhostAt(keyHost, revision - 1), this.vhostAt(keyHost, revision)]);
    const from = liveColour(before.spec, before.active);
    const to = liveColour(after.spec, after.active);
    if (from === null || to === null || from === to) return null;
    const host = keyHost.toLowerCase();
    const intentKv = (await this.client.get(intentKey(this.prefix, host)).revision(revision).exec()).kvs[0];
    // Written in the same transaction as the active key, so only an intent of this very revision is this flip's.
    const intent = intentKv && Number(intentKv.mod_revision) === revision ? parseIntent(intentKv.value.toString('utf8')) : null;
    return { host, from, to, revision, intent: intent?.to === to ? intent : null };
  }

  async create(entry: LedgerEntry): Promise<boolean> {
    const key = historyKey(this.prefix, entry.host, entry.revision);
    const res = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(JSON.stringify(entry))).commit();
    return res.succeeded;
  }

  async confirm(host: string, revision: number, node: string, at: string): Promise<boolean> {
    const key = historyKey(this.prefix, host, revision);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const kv = (await this.client.get(key).exec()).kvs[0];
      if (!kv) return false;
      const entry = parseEntry(kv.value.toString('utf8'));
      if (typeof entry === 'string') throw new Error(`etcd key ${key} does not hold a ledger entry (${entry})`);
      const next = withConfirmation(entry, node, at);
      if (next === entry) return true;
      const res = await this.client.if(key, 'Mod', '==', kv.mod_revision).then(this.client.put(key).value(JSON.stringify(next))).commit();
      if (res.succeeded) return true;
    }
    throw new Error(`etcd key ${key} kept changing; ${CAS_ATTEMPTS} attempts to add the confirmation of ${node} lost the race`);
  }

  async trim(host: string): Promise<void> {
    const keys = await this.client.getAll().prefix(historyPrefix(this.prefix, host)).keys();
    for (const key of keysToTrim(keys)) await this.client.delete().key(key);
  }

  async list(host: string, limit: number): Promise<{ entries: LedgerEntry[]; unreadable: string[] }> {
    const res = await this.client.getAll().prefix(historyPrefix(this.prefix, host)).sort('Key', 'Descend').limit(limit).exec();
    const entries: LedgerEntry[] = [];
    const unreadable: string[] = [];
    for (const kv of res.kvs) {
      const entry = parseEntry(kv.value.toString('utf8'));
      if (typeof entry === 'string') unreadable.push(`etcd key ${kv.key.toString('utf8')}: ${entry}`);
      else entries.push(entry);
    }
    return { entries, unreadable };
  }

  private async vhostAt(keyHost: string, revision: number): Promise<{ spec?: string; active?: string }> {
    // Revision 0 would mean "now" to etcd; nothing existed before revision 1.
    if (revision < 1) return {};
    const base = `${this.prefix}vhosts/${keyHost}/`;
    const res = await this.client.getAll().prefix(base).revision(revision).exec();
    const value = (leaf: string): string | undefined => res.kvs.find((kv) => kv.key.toString('utf8') === `${base}${leaf}`)?.value.toString('utf8');
    const spec = value('spec');
    const active = value('active');
    return { ...(spec === undefined ? {} : { spec }), ...(active === undefined ? {} : { active }) };
  }
}
