/**
 * The desired state, made again on every sync from whole snapshots (level-
 * triggered, like buildDesired) but at the cost of what changed: a vhost
 * whose own inputs are the same as last time (its etcd keys, the endpoint
 * objects of the services it names, its last good version) keeps its
 * previous result, objects included, which lets every later step (slots,
 * views, plan, render) skip it by identity. The result always equals
 * buildDesired's on the same snapshots; a property test holds the two
 * together.
 */
import { compareProblems, groupByHost, hostResult, previousTls, type HostKeys, type HostResult } from './desired.ts';
import type { DesiredState, EtcdSnapshot, LastGoodEntry, LastGoodRecords, Problem, ServiceEndpoints, ServicesSnapshot, VHost, VHostTls } from './model.ts';
import { ServiceMerger } from './service-merger.ts';
import type { TlsInput } from './tls.ts';

interface Memo {
  readonly keys: HostKeys;
  readonly stored: LastGoodEntry | undefined;
  readonly result: HostResult;
}

interface Grouping {
  readonly prefix: string;
  readonly entries: EtcdSnapshot['entries'];
  /** The entries' keys in snapshot order: a later list that starts with this one only adds keys (see regroup). */
  readonly keys: readonly string[];
  readonly hosts: ReadonlyMap<string, HostKeys>;
  readonly problems: readonly Problem[];
}

/** One build's inputs, shared by every vhost made in it. */
interface BuildInputs {
  readonly prefix: string;
  readonly services: ReadonlyMap<string, ServiceEndpoints>;
  readonly grouping: Grouping;
  stored(host: string): LastGoodEntry | undefined;
  readonly now: number;
  readonly tls: TlsInput | undefined;
  previousTls(host: string): VHostTls | null;
}

export class DesiredCache {
  private readonly merger = new ServiceMerger();
  private readonly memos = new Map<string, Memo>();
  private grouping: Grouping | null = null;
  private last: DesiredState | null = null;
  /** What vhosts made since the last build changed: the list served, the last good records. */
  private changed = { vhosts: false, entries: false };

  build(etcd: EtcdSnapshot, sources: readonly ServicesSnapshot[], lastGood: LastGoodRecords = {}, now = 0, tls?: TlsInput): DesiredState {
    const inputs = this.inputs(etcd, sources, lastGood, now, tls);
    const { grouping } = inputs;
    const problems: Problem[] = [...sources.flatMap((s) => s.problems), ...grouping.problems];
    const last = this.last;
    const vhosts: VHost[] = [];
    if (last === null || this.memos.size !== grouping.hosts.size) this.changed = { vhosts: true, entries: true };
    for (const [host, keys] of grouping.hosts) {
      const memo = this.memoFor(host, keys, inputs);
      problems.push(...memo.result.problems);
      if (memo.result.vhost) vhosts.push(memo.result.vhost);
    }
    if (this.memos.size !== grouping.hosts.size) for (const host of this.memos.keys()) if (!grouping.hosts.has(host)) this.memos.delete(host);
    const desired: DesiredState = {
      revision: etcd.revision,
      vhosts: !this.changed.vhosts && last ? last.vhosts : vhosts,
      problems: problems.sort(compareProblems),
      lastGood: !this.changed.entries && last?.lastGood ? last.lastGood : this.remembered(grouping.hosts.keys()),
    };
    this.changed = { vhosts: false, entries: false };
    this.last = desired;
    return desired;
  }

  /**
   * Makes up to `budget` of the vhosts build would make, and keeps them for
   * it; true once none is left. Lets a caller spread a large build (a first
   * sync) over several turns of the event loop.
   */
  prepare(etcd: EtcdSnapshot, sources: readonly ServicesSnapshot[], lastGood: LastGoodRecords, now: number, tls: TlsInput | undefined, budget: number): boolean {
    const inputs = this.inputs(etcd, sources, lastGood, now, tls);
    let made = 0;
    for (const [host, keys] of inputs.grouping.hosts) {
      const memo = this.memos.get(host);
      // Results that are made again every time are made once here, and again by build.
      if (memo && (memo.result.readTls || memo.result.readNow || reusable(memo, keys, inputs.stored(host), inputs.services))) continue;
      if (made++ >= budget) return false;
      this.memoFor(host, keys, inputs);
    }
    return true;
  }

  private inputs(etcd: EtcdSnapshot, sources: readonly ServicesSnapshot[], lastGood: LastGoodRecords, now: number, tls: TlsInput | undefined): BuildInputs {
    // Only vhosts made again need the certificates served before.
    let previous: ReadonlyMap<string, VHostTls | null> | null = null;
    return {
      prefix: etcd.prefix,
      services: this.merger.merge(sources),
      grouping: this.group(etcd),
      stored: (host) => (Object.hasOwn(lastGood, host) ? lastGood[host] : undefined),
      now,
      tls,
      previousTls: (host) => (previous ??= previousTls(tls)).get(host) ?? null,
    };
  }

  /** The host's memo, made again when its inputs changed; notes what the change touches. */
  private memoFor(host: string, keys: HostKeys, inputs: BuildInputs): Memo {
    const stored = inputs.stored(host);
    const memo = this.memos.get(host);
    if (memo && reusable(memo, keys, stored, inputs.services)) return memo;
    const { prefix, services, now, tls } = inputs;
    const result = hostResult({ host, keys, prefix, services, stored, now, tls, previousTls: () => inputs.previousTls(host) });
    this.changed = {
      vhosts: this.changed.vhosts || result.vhost !== memo?.result.vhost,
      entries: this.changed.entries || !sameEntry(result.entry ?? undefined, memo?.result.entry ?? undefined),
    };
    const made = { keys, stored, result };
    this.memos.set(host, made);
    return made;
  }

  private remembered(hosts: Iterable<string>): Record<string, LastGoodEntry> {
    const records: Record<string, LastGoodEntry> = {};
    for (const host of hosts) {
      const entry = this.memos.get(host)?.result.entry;
      if (entry) records[host] = entry;
    }
    return records;
  }

  /**
   * Hosts and their keys; grouped again from scratch only when keys went or
   * came in a way that could change which key wins (a new host, a key not in
   * lower case). Entries keep their place in the snapshot when their value
   * changes, and new keys come last.
   */
  private group(etcd: EtcdSnapshot): Grouping {
    const g = this.grouping;
    if (g && g.prefix === etcd.prefix && g.entries === etcd.entries) return g;
    const keys = Object.keys(etcd.entries);
    const grouping = (g && g.prefix === etcd.prefix && this.regroup(g, keys, etcd)) || fullGrouping(etcd, keys);
    this.grouping = grouping;
    return grouping;
  }

  /** The last grouping brought up to date, or null when only a full grouping can tell. */
  private regroup(g: Grouping, keys: readonly string[], etcd: EtcdSnapshot): Grouping | null {
    if (keys.length < g.keys.length || !samePrefix(keys, g.keys)) return null;
    const hosts = g.hosts as Map<string, HostKeys>;
    for (const [host, was] of hosts) {
      const now = refreshed(was, etcd.entries);
      if (now !== was) hosts.set(host, now);
    }
    for (let i = g.keys.length; i < keys.length; i++) if (!addKey(hosts, keys[i] ?? '', etcd)) return null;
    return { prefix: etcd.prefix, entries: etcd.entries, keys, hosts, problems: g.problems };
  }
}

function fullGrouping(etcd: EtcdSnapshot, keys: readonly string[]): Grouping {
  const problems: Problem[] = [];
  const hosts = groupByHost(etcd, problems);
  return { prefix: etcd.prefix, entries: etcd.entries, keys, hosts, problems };
}

/** Adds a new key to an existing host; false when it needs a full grouping (a new host, a key not in lower case, a clash). */
function addKey(hosts: Map<string, HostKeys>, key: string, etcd: EtcdSnapshot): boolean {
  const m = /^vhosts\/([^/]*)\/(spec|active)$/.exec(key);
  if (!m) return true;
  const host = m[1] ?? '';
  const leaf = m[2] === 'spec' ? 'spec' : 'active';
  const was = hosts.get(host);
  const entry = etcd.entries[key];
  if (host !== host.toLowerCase() || !was || was[leaf] || !entry) return false;
  hosts.set(host, { ...was, [leaf]: { key, value: entry.value, modRevision: entry.modRevision } });
  return true;
}

/** Certificates are judged against the clock, and a first fall back is dated by it: such results are made again every time. */
function reusable(memo: Memo, keys: HostKeys, stored: LastGoodEntry | undefined, services: ReadonlyMap<string, unknown>): boolean {
  return !memo.result.readTls && !memo.result.readNow && sameKey(memo.keys.spec, keys.spec) && sameKey(memo.keys.active, keys.active) && sameEntry(memo.stored, stored) && memo.result.services.every(([ref, found]) => services.get(ref) === found);
}

function sameKey(a: HostKeys['spec'], b: HostKeys['spec']): boolean {
  return a === b || (a !== undefined && b !== undefined && a.key === b.key && a.value === b.value && a.modRevision === b.modRevision);
}

function sameEntry(a: LastGoodEntry | undefined, b: LastGoodEntry | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.spec === b.spec && a.active === b.active && a.revision === b.revision && a.since === b.since);
}

/** A host's keys with their current values; the same object when none changed. */
function refreshed(was: HostKeys, entries: EtcdSnapshot['entries']): HostKeys {
  const spec = was.spec && current(was.spec, entries);
  const active = was.active && current(was.active, entries);
  if (spec === was.spec && active === was.active) return was;
  return { ...(spec ? { spec } : {}), ...(active ? { active } : {}) };
}

function current(key: NonNullable<HostKeys['spec']>, entries: EtcdSnapshot['entries']): NonNullable<HostKeys['spec']> {
  const entry = entries[key.key];
  if (!entry || (entry.value === key.value && entry.modRevision === key.modRevision)) return key;
  return { key: key.key, value: entry.value, modRevision: entry.modRevision };
}

/** `a` starts with all of `b`, in order. */
function samePrefix(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
