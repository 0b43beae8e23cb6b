import { setTimeout as sleep } from 'node:timers/promises';
import { HaproxyError, isHaproxyError } from './errors.ts';
import { exchange } from './socket.ts';

export interface MasterClientOptions {
  /** Master CLI socket (haproxy -S): a UNIX socket path, or host:port. */
  socket: string;
  timeoutMs?: number;
  /** Called before each retry of a refused connection (e.g. while HAProxy reloads); for logs and metrics. */
  onRetry?: (reason: string, attempt: number) => void;
}

export interface ProcEntry {
  pid: number;
  /** "worker", or the program's name in the programs sections. */
  type: string;
  /** How many reloads this process has lived through: 0 for the newest generation. */
  reloads: number;
  uptime: string;
  uptimeSec: number;
  version: string;
}

export interface MasterEntry extends ProcEntry {
  /** Failed reloads since the last successful one: HAProxy resets it to 0 on success. */
  failed: number;
}

export interface ProcInfo {
  master: MasterEntry;
  workers: ProcEntry[];
  /** Workers of earlier generations still finishing their connections. */
  oldWorkers: ProcEntry[];
  programs: ProcEntry[];
  oldPrograms: ProcEntry[];
}

export interface ReloadOptions {
  /** How long to wait for HAProxy to confirm; validating a large config takes seconds. */
  timeoutMs?: number;
}

export interface ReloadResult {
  ok: boolean;
  reloadsBefore: number;
  reloadsAfter: number;
  failedBefore: number;
  failedAfter: number;
  durationMs: number;
  newWorkerPids: number[];
  /** Why ok is false; empty when ok. */
  reason: string;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_RELOAD_TIMEOUT_MS = 30_000;
const MAX_POLL_INTERVAL_MS = 100;

export class MasterClient {
  readonly socket: string;
  readonly timeoutMs: number;
  readonly #onRetry: ((reason: string, attempt: number) => void) | undefined;

  constructor(opts: MasterClientOptions) {
    this.socket = opts.socket;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#onRetry = opts.onRetry;
  }

  /** Raw answer without its closing blank line; `@<n> <cmd>` reaches a worker through the master. */
  async command(cmd: string): Promise<string> {
    checkCommand(cmd);
    return stripAnswer(await exchange(this.socket, `${cmd}\n`, { timeoutMs: this.timeoutMs, onRetry: this.#onRetry }));
  }

  async showProc(timeoutMs: number = this.timeoutMs): Promise<ProcInfo> {
    const answer = stripAnswer(await exchange(this.socket, 'show proc\n', { timeoutMs, idempotent: true, onRetry: this.#onRetry }));
    const proc = parseShowProc(answer);
    if (proc === null) {
      throw new HaproxyError('HAPROXY_COMMAND_FAILED', `HAProxy master (${this.socket}) gave an unexpected answer to "show proc": ${answer.slice(0, 200)}`, {
        socket: this.socket,
        command: 'show proc',
        answer,
      });
    }
    return proc;
  }

  /**
   * HAProxy 2.6 answers nothing to `reload`: the outcome is read from
   * `show proc`, whose reload counter rises once the master has re-executed,
   * and whose `failed` counter rises if the new configuration did not load
   * (HAProxy then keeps the old workers serving).
   */
  async reload(opts: ReloadOptions = {}): Promise<ReloadResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RELOAD_TIMEOUT_MS;
    const before = await this.showProc();
    const started = Date.now();
    await this.#sendReload();
    const deadline = started + timeoutMs;
    let interval = 5;
    let last: ProcInfo | null = null;
    let lastError: unknown = null;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return this.#unconfirmed(before, last, lastError, started, timeoutMs);
      try {
        last = await this.showProc(remaining);
        const result = judgeReload(before, last, Date.now() - started);
        if (result !== null) return result;
      } catch (err) {
        if (!isHaproxyError(err) || err.code === 'HAPROXY_COMMAND_FAILED') throw err;
        lastError = err;
      }
      await sleep(interval);
      interval = Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
    }
  }

  async #sendReload(): Promise<void> {
    let answer: string;
    try {
      answer = stripAnswer(await exchange(this.socket, 'reload\n', { timeoutMs: this.timeoutMs, onRetry: this.#onRetry }));
    } catch (err) {
      // The master may drop the connection as it re-executes: the reload is under way.
      if (isHaproxyError(err, 'HAPROXY_CONNECTION_LOST')) return;
      throw err;
    }
    if (answer !== '') {
      throw new HaproxyError('HAPROXY_COMMAND_FAILED', `HAProxy master (${this.socket}) rejected "reload": ${answer}`, {
        socket: this.socket,
        command: 'reload',
        answer,
      });
    }
  }

  #unconfirmed(before: ProcInfo, last: ProcInfo | null, lastError: unknown, started: number, timeoutMs: number): ReloadResult {
    if (last !== null && last.master.reloads > before.master.reloads) {
      return {
        ...counters(before, last, Date.now() - started),
        ok: false,
        newWorkerPids: [],
        reason: `the reload counter rose but no worker of the new generation appeared within ${timeoutMs} ms`,
      };
    }
    const seen = last === null ? 'the master socket never answered' : `reload counter still ${last.master.reloads}`;
    throw new HaproxyError('HAPROXY_RELOAD_FAILED', `HAProxy master (${this.socket}) did not confirm the reload within ${timeoutMs} ms (${seen}); check the HAProxy logs`, {
      socket: this.socket,
      command: 'reload',
      cause: lastError ?? undefined,
    });
  }
}

/** null while the reload is still under way. */
export function judgeReload(before: ProcInfo, after: ProcInfo, durationMs: number): ReloadResult | null {
  if (after.master.reloads <= before.master.reloads) return null;
  const base = counters(before, after, durationMs);
  if (after.master.failed > before.master.failed) {
    return { ...base, ok: false, newWorkerPids: [], reason: 'HAProxy could not load the new configuration; the previous workers keep serving' };
  }
  const oldPids = new Set([...before.workers, ...before.oldWorkers].map((w) => w.pid));
  const fresh = after.workers.filter((w) => w.reloads === 0 && !oldPids.has(w.pid)).map((w) => w.pid);
  if (fresh.length === 0) return null;
  return { ...base, ok: true, newWorkerPids: fresh, reason: '' };
}

function counters(before: ProcInfo, after: ProcInfo, durationMs: number) {
  return {
    reloadsBefore: before.master.reloads,
    reloadsAfter: after.master.reloads,
    failedBefore: before.master.failed,
    failedAfter: after.master.failed,
    durationMs,
  };
}

const MASTER_LINE = /^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]\s+(\S+)\s*(\S*)\s*$/;
const PROC_LINE = /^(\d+)\s+(\S+)\s+(\d+)\s+(\S+)\s*(\S*)\s*$/;
type Section = 'workers' | 'oldWorkers' | 'programs' | 'oldPrograms';

const SECTIONS: Readonly<Record<string, Section>> = {
  '# workers': 'workers',
  '# old workers': 'oldWorkers',
  '# programs': 'programs',
  '# old programs': 'oldPrograms',
};

/**
 * 2.6 prints a "#<PID> <type> <reloads> <uptime> <version>" header, the
 * master ("<reloads>" reads "3 [failed: 1]"), then "# workers", "# old workers"
 * (only when there are some), "# programs" and maybe "# old programs".
 */
export function parseShowProc(answer: string): ProcInfo | null {
  const [header, masterLine, ...rest] = answer.split('\n');
  const m = masterLine === undefined ? null : MASTER_LINE.exec(masterLine);
  if (header === undefined || !header.startsWith('#<PID>') || m === null) return null;
  const master: MasterEntry = { ...entry(m[1], 'master', m[2], m[4], m[5]), failed: Number(m[3]) };
  const info: ProcInfo = { master, workers: [], oldWorkers: [], programs: [], oldPrograms: [] };
  let section: Section | null = null;
  for (const line of rest) {
    if (line.trim() === '') continue;
    const heading = SECTIONS[line.trim()];
    if (heading !== undefined) {
      section = heading;
      continue;
    }
    const p = PROC_LINE.exec(line);
    if (p === null || section === null) return null;
    info[section].push(entry(p[1], p[2], p[3], p[4], p[5]));
  }
  return info;
}

function entry(pid = '', type = '', reloads = '', uptime = '', version = ''): ProcEntry {
  return { pid: Number(pid), type, reloads: Number(reloads), uptime, uptimeSec: parseUptime(uptime), version };
}

function parseUptime(uptime: string): number {
  const m = /^(\d+)d(\d+)h(\d+)m(\d+)s$/.exec(uptime);
  if (m === null) return NaN;
  return Number(m[1]) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

function stripAnswer(text: string): string {
  return text.replace(/\n\n?$/, '');
}

function checkCommand(cmd: string): void {
  if (cmd.trim() === '' || /[\r\n;]/.test(cmd)) {
    throw new HaproxyError('HAPROXY_INVALID_ARGUMENT', `command ${JSON.stringify(cmd)} must be one non-empty command without newlines or ";"`, { command: cmd });
  }
}
