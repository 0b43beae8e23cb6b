/**
 * Whether HAProxy already runs a set of files, so a restarted daemon can take
 * them over without a reload: the files on disk hold exactly this text, and
 * HAProxy's current workers started after the files were last written.
 * A crash between writing the files and applying them leaves files newer than
 * the workers, and the answer is no.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rendered } from '../core/model.ts';
import { readText } from './files.ts';
import type { ProcInfo } from './master.ts';
import { isSupported, parseVersion } from './version.ts';

/** Clock ticks per second in /proc (USER_HZ, 100 on every Linux architecture HAProxy hosts run). */
const TICKS_PER_SECOND = 100;
/** Process start times have 10 ms precision: a file written this close to a load is not trusted to predate it. */
const CLOCK_MARGIN_MS = 20;

export interface AdoptPaths {
  readonly config: string;
  readonly mapsDir: string;
  /** The certificates HAProxy loads count too: a renewal may change nothing else. */
  readonly certsDir?: string;
}

export async function runsAlready(paths: AdoptPaths, rendered: Rendered, showProc: () => Promise<ProcInfo>): Promise<boolean> {
  const certs = paths.certsDir ? Object.entries(rendered.certificates ?? {}).map(([name, text]) => [join(paths.certsDir ?? '', name), text] as const) : [];
  const files = [[paths.config, rendered.config], ...Object.entries(rendered.maps).map(([name, text]) => [join(paths.mapsDir, name), text] as const), ...certs] as const;
  let newest = 0;
  for (const [path, text] of files) {
    if ((await readText(path)) !== text) return false;
    newest = Math.max(newest, (await stat(path)).mtimeMs);
  }
  const proc = await showProc();
  // An unsupported HAProxy is never taken over: the reload that follows refuses it with a clear error.
  const version = parseVersion(proc.master.version);
  if (version === null || !isSupported(version)) return false;
  // From 3.1 a failed reload leaves "# workers" empty, the serving worker under "# old workers": its files are not these.
  if (proc.workers.length === 0) return false;
  // `show proc` gives uptimes in whole seconds, too coarse: a reload follows its file write by milliseconds.
  const loadedAt = Math.min(...(await Promise.all(proc.workers.map((w) => startedAt(w.pid)))));
  return newest < loadedAt - CLOCK_MARGIN_MS;
}

/** When a process started, in wall-clock milliseconds, from /proc (same host; throws where /proc hides it). */
async function startedAt(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Field 22 is the start time in ticks since boot; fields are counted after the parenthesised command name.
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const sinceBootSec = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  if (!Number.isFinite(startTicks) || !Number.isFinite(sinceBootSec)) throw new Error(`cannot read the start time of process ${pid}`);
  return Date.now() - (sinceBootSec - startTicks / TICKS_PER_SECOND) * 1000;
}
