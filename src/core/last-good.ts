/**
 * Last good version per vhost. When a vhost's current etcd values are
 * invalid and a good version of it was applied before, that version keeps
 * serving, marked with the problem and since when. What is remembered are
 * the raw etcd values, never a parsed result: they go through the same
 * validation as fresh values every time they are used, so a stored version
 * that would not pass today is dropped, not trusted.
 *
 * A deleted vhost (no spec key) is removed: deletion is not a bad value.
 */
import type { LastGoodEntry, LastGoodInputs, LastGoodMark, LastGoodRecords, Problem, VHost } from './model.ts';

export type { LastGoodEntry, LastGoodInputs, LastGoodMark, LastGoodRecords };

/** What the current etcd values of one vhost give. */
export type CurrentVHost =
  | { readonly kind: 'deleted' }
  | { readonly kind: 'valid'; readonly vhost: VHost; readonly inputs: LastGoodInputs }
  | { readonly kind: 'invalid'; readonly problems: readonly Problem[] };

export interface LastGoodDecision {
  /** What to serve; null leaves the vhost out. */
  readonly vhost: VHost | null;
  /** What to remember for this host; null forgets it. */
  readonly entry: LastGoodEntry | null;
  /** Set when the vhost serves its last good version. */
  readonly mark: LastGoodMark | null;
  /** Problems to report besides the current values' own (a stored version that no longer validates). */
  readonly problems: readonly Problem[];
}

/**
 * `rebuild` validates stored values exactly as fresh ones are validated,
 * against the current endpoints; it returns the problems when they fail.
 */
export function decideVHost(
  current: CurrentVHost,
  stored: LastGoodEntry | undefined,
  rebuild: (inputs: LastGoodInputs) => VHost | readonly Problem[],
  now: number,
): LastGoodDecision {
  switch (current.kind) {
    case 'deleted':
      return { vhost: null, entry: null, mark: null, problems: [] };
    case 'valid':
      return { vhost: current.vhost, entry: { ...current.inputs, since: null }, mark: null, problems: [] };
    case 'invalid':
      return fallBack(current.problems, stored, rebuild, now);
  }
}

function fallBack(
  problems: readonly Problem[],
  stored: LastGoodEntry | undefined,
  rebuild: (inputs: LastGoodInputs) => VHost | readonly Problem[],
  now: number,
): LastGoodDecision {
  const problem = problems[0];
  if (!stored || !problem) return { vhost: null, entry: null, mark: null, problems: [] };
  const built = rebuild(stored);
  if (isProblems(built)) {
    const why = built.map((p) => p.message).join('; ');
    const dropped: Problem = { ...problem, code: 'STATE_INVALID', message: `the last good version no longer validates and is dropped: ${why}` };
    return { vhost: null, entry: null, mark: null, problems: [dropped] };
  }
  const since = stored.since ?? now;
  const mark = { since, problem };
  return { vhost: { ...built, lastGood: mark }, entry: { ...stored, since }, mark, problems: [] };
}

function isProblems(built: VHost | readonly Problem[]): built is readonly Problem[] {
  return Array.isArray(built);
}

/** Two record sets say the same; decides whether the state file needs writing. */
export function sameRecords(a: LastGoodRecords, b: LastGoodRecords): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = a[k];
    const y = b[k];
    return x !== undefined && y !== undefined && x.spec === y.spec && x.active === y.active && x.revision === y.revision && x.since === y.since;
  });
}
