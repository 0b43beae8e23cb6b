/**
 * The state directory's last-good.json, parsed and checked. The file is
 * ours, but a disk, an editor or an older version may have left anything
 * there: every entry is checked for shape here, and its values are validated
 * again like fresh etcd values whenever they are used (see last-good.ts).
 */
import type { LastGoodEntry, LastGoodRecords, Problem } from './model.ts';
import { checkHost } from './validate.ts';

export const LAST_GOOD_FILE = 'last-good.json';
const FORMAT = 1;

export function formatLastGood(records: LastGoodRecords): string {
  const vhosts: Record<string, LastGoodEntry> = {};
  for (const host of Object.keys(records).sort()) {
    const e = records[host];
    if (e) vhosts[host] = { spec: e.spec, active: e.active, revision: e.revision, since: e.since };
  }
  return `${JSON.stringify({ format: FORMAT, vhosts }, null, 1)}\n`;
}

/** `where` names the file in problems. Bad entries are dropped, each with a problem; a bad file gives no records. */
export function parseLastGood(text: string, where: string): { records: LastGoodRecords; problems: Problem[] } {
  const source = `state file ${where}`;
  const bad = (message: string): { records: LastGoodRecords; problems: Problem[] } => ({ records: {}, problems: [{ code: 'STATE_INVALID', source, message }] });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return bad(`not JSON (${err instanceof Error ? err.message : String(err)}); ignored`);
  }
  if (!isRecord(doc) || doc['format'] !== FORMAT || !isRecord(doc['vhosts'])) return bad(`not a format ${FORMAT} last-good file; ignored`);
  const records: Record<string, LastGoodEntry> = {};
  const problems: Problem[] = [];
  for (const [host, value] of Object.entries(doc['vhosts'])) {
    const problem = checkHost(host) ?? entryProblem(value);
    if (problem) problems.push({ code: 'STATE_INVALID', source, host, message: `entry ${JSON.stringify(host)}: ${problem}; ignored` });
    else records[host] = value as LastGoodEntry;
  }
  return { records, problems };
}

function entryProblem(v: unknown): string | null {
  if (!isRecord(v)) return 'must be an object';
  if (typeof v['spec'] !== 'string') return 'spec must be a string';
  if (v['active'] !== null && typeof v['active'] !== 'string') return 'active must be a string or null';
  if (!Number.isSafeInteger(v['revision']) || (v['revision'] as number) < 0) return 'revision must be a whole number';
  if (v['since'] !== null && !Number.isSafeInteger(v['since'])) return 'since must be a time in ms or null';
  return Object.keys(v).every((k) => ['spec', 'active', 'revision', 'since'].includes(k)) ? null : 'has unknown fields';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
