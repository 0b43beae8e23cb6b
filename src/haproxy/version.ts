/**
 * Which HAProxy runs, and what it can do. Everything that behaves
 * differently from one HAProxy version to the next asks here, so a new
 * version means reading this file, not hunting for string tests.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { errorMessage } from '../errors.ts';
import { HaproxyError } from './errors.ts';

export interface HaproxyVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The upstream release, e.g. "3.0.11": what metrics and logs show. */
  readonly release: string;
  /** As HAProxy prints it, with a distribution's suffix: "3.0.11-1+deb13u4". */
  readonly full: string;
}

/** The oldest series haproxy-sync drives: Debian 12's, still supported upstream. */
export const OLDEST_SUPPORTED = '2.6';
/** The series the tests run on: Debian 12 (2.6), Debian 13 (3.0), unstable (3.2). */
export const TESTED_SERIES: readonly string[] = ['2.6', '3.0', '3.2'];

// "3.0.11-1+deb13u4", "2.6.12", "3.2-dev5", or haproxy -v's "HAProxy version 3.0.11-1+deb13u4 2026/10/15 - https://haproxy.org/"
// (2.x before 2.5 said "HA-Proxy version").
const VERSION = /^(?:HA-?Proxy version\s+)?(\d+)\.(\d+)(?:\.(\d+))?([-+~][^\s]*)?(?:\s|$)/;

/** The version in `show version`, `show proc`'s version column, `show info`'s Version, or `haproxy -v`; null if there is none. */
export function parseVersion(text: string): HaproxyVersion | null {
  const m = VERSION.exec(text.trim());
  if (m === null) return null;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), m[3] === undefined ? 0 : Number(m[3])];
  const release = m[3] === undefined ? `${major}.${minor}` : `${major}.${minor}.${patch}`;
  return { major, minor, patch, release, full: `${release}${m[4] ?? ''}` };
}

export function series(v: HaproxyVersion): string {
  return `${v.major}.${v.minor}`;
}

function atLeast(v: HaproxyVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

export function isSupported(v: HaproxyVersion): boolean {
  return atLeast(v, 2, 6);
}

/**
 * From 2.7 the master CLI answers `reload` once the new workers have loaded
 * (or failed to): "Success=1" or "Success=0", "--", then the startup log.
 * 2.6 answers nothing; the outcome is read from `show proc`.
 */
export function answersReload(v: HaproxyVersion): boolean {
  return atLeast(v, 2, 7);
}

/** From 3.1 a reload sent while the previous one is still loading is refused ("Another reload is still in progress"), not queued. */
export function refusesOverlappingReload(v: HaproxyVersion): boolean {
  return atLeast(v, 3, 1);
}

/** The error for a version below OLDEST_SUPPORTED; nothing is applied to it. */
export function unsupported(v: HaproxyVersion, where: string): HaproxyError {
  return new HaproxyError(
    'HAPROXY_VERSION_UNSUPPORTED',
    `${where} runs HAProxy ${v.full}; haproxy-sync needs HAProxy ${OLDEST_SUPPORTED} or later (tested: ${TESTED_SERIES.join(', ')}). Nothing is applied until HAProxy is upgraded`,
  );
}

export interface VersionRead {
  readonly version: HaproxyVersion;
  /** Where it was read: the running master, or the binary (HAProxy not answering). */
  readonly from: 'master CLI' | 'haproxy -v';
}

/**
 * The running HAProxy's version from its master CLI; when the master does
 * not answer (HAProxy stopped, or starting), the version of the binary that
 * will run, from `haproxy -v`.
 */
export async function readVersion(master: { command(cmd: string): Promise<string> }, binary: string): Promise<VersionRead> {
  let masterProblem: string;
  try {
    const answer = await master.command('show version');
    const version = parseVersion(answer);
    if (version !== null) return { version, from: 'master CLI' };
    masterProblem = `unexpected answer to "show version": ${answer.slice(0, 200)}`;
  } catch (err) {
    masterProblem = errorMessage(err);
  }
  let output: string;
  try {
    output = (await promisify(execFile)(binary, ['-v'], { timeout: 5000 })).stdout;
  } catch (err) {
    throw new HaproxyError('HAPROXY_COMMAND_FAILED', `cannot tell the HAProxy version: the master CLI: ${masterProblem}; ${binary} -v: ${errorMessage(err)}`);
  }
  const version = parseVersion(output);
  if (version === null) throw new HaproxyError('HAPROXY_COMMAND_FAILED', `cannot tell the HAProxy version: ${binary} -v printed ${JSON.stringify(output.slice(0, 200))}`);
  return { version, from: 'haproxy -v' };
}
