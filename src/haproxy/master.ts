import { setTimeout as sleep } from 'node:timers/promises';
import { HaproxyError, isHaproxyError } from './errors.ts';
import { exchange } from './socket.ts';
import { answersReload, isSupported, parseVersion, unsupported, type HaproxyVersion } from './version.ts';

export interface MasterClientOptions {
  /** Master CLI socket (haproxy -S): a UNIX socket path, or host:port. */
  socket: string;
  timeoutMs?: number;
  /** Called before each retry of a refused connection (e.g. while HAProxy reloads); for logs and metrics. */
  onRetry?: (reason: string, attempt: number) => void;
  /** Called with the master's version when first seen, and again after HAProxy restarts or is upgraded. */
  onVersion?: (version: HaproxyVersion) => void;
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
  readonly #onVersion: ((version: HaproxyVersion) => void) | undefined;
  /** The master process and version last seen in `show proc`: a new PID is a restart, a new version an upgrade. */
  #seen: { pid: number; version: HaproxyVersion } | null = null;

  constructor(opts: MasterClientOptions) {
    this.socket = opts.socket;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#onRetry = opts.onRetry;
    this.#onVersion = opts.onVersion;
  }

  /** The master's version as of the last `show proc`; null before the first. */
  version(): HaproxyVersion | null {
    return this.#seen?.version ?? null;
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
      await this.#refuseIfOld();
      throw new HaproxyError('HAPROXY_COMMAND_FAILED', `HAProxy master (${this.socket}) gave an unexpected answer to "show proc": ${answer.slice(0, 200)}`, {
        socket: this.socket,
        command: 'show proc',
        answer,
      });
    }
    this.#noteVersion(proc.master);
    return proc;
  }

  #noteVersion(master: MasterEntry): void {
    if (this.#seen !== null && this.#seen.pid === master.pid && this.#seen.version.full === master.version) return;
    const version = parseVersion(master.version);
    if (version === null) return;
    this.#seen = { pid: master.pid, version };
    this.#onVersion?.(version);
  }

  /** Versions before 2.6 print `show proc` differently: say that, rather than "unexpected answer". */
  async #refuseIfOld(): Promise<void> {
    const version = parseVersion(await this.command('show version').catch(() => ''));
    if (version !== null && !isSupported(version)) throw unsupported(version, `HAProxy master (${this.socket})`);
  }

  /**
   * Reloads and confirms it, the way the running version allows: from 2.7
   * the master answers `reload` itself once the new workers have loaded or
   * failed; 2.6 answers nothing, and the outcome is read from `show proc`,
   * whose reload counter rises once the master has re-executed, and whose
   * `failed` counter rises if the new configuration did not load (HAProxy
   * then keeps the old workers serving).
   */
  async reload(opts: ReloadOptions = {}): Promise<ReloadResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RELOAD_TIMEOUT_MS;
    const before = await this.showProc();
    const version = this.version();
    if (version !== null && !isSupported(version)) throw unsupported(version, `HAProxy master (${this.socket})`);
    const started = Date.now();
    const deadline = started + timeoutMs;
    if (version !== null && answersReload(version)) return this.#reloadAnswered(before, started, deadline, timeoutMs);
    await this.#sendReload();
    return this.#pollReload(before, started, deadline, timeoutMs);
  }

  /** 2.7+: the answer says how the reload went; `show proc` afterwards fills in the counters and the new workers. */
  async #reloadAnswered(before: ProcInfo, started: number, deadline: number, timeoutMs: number): Promise<ReloadResult> {
    let wait = 10;
    for (;;) {
      let text: string;
      try {
        text = stripAnswer(await exchange(this.socket, 'reload\n', { timeoutMs: Math.max(1, deadline - Date.now()), onRetry: this.#onRetry }));
      } catch (err) {
        // The connection went with the old master: the reload is under way, confirm it the 2.6 way.
        if (isHaproxyError(err, 'HAPROXY_CONNECTION_LOST')) return this.#pollReload(before, started, deadline, timeoutMs);
        throw err;
      }
      const answer = parseReloadAnswer(text);
      switch (answer.kind) {
        case 'busy':
          // Another reload (an operator's, or one of ours cut short) is still loading: ours follows it.
          if (Date.now() + wait > deadline) {
            throw new HaproxyError('HAPROXY_RELOAD_FAILED', `HAProxy master (${this.socket}) kept answering "Another reload is still in progress" for ${timeoutMs} ms`, {
              socket: this.socket,
              command: 'reload',
              answer: text,
            });
          }
          await sleep(wait);
          wait = Math.min(wait * 2, MAX_POLL_INTERVAL_MS);
          continue;
        case 'empty':
          return this.#pollReload(before, started, deadline, timeoutMs);
        case 'unknown':
          throw new HaproxyError('HAPROXY_RELOAD_FAILED', `HAProxy master (${this.socket}) gave an answer to "reload" this version of haproxy-sync does not know: ${shorten(text)}`, {
            socket: this.socket,
            command: 'reload',
            answer: text,
          });
        case 'success':
        case 'failure': {
          const after = await this.showProc().catch(() => before);
          const base = counters(before, after, Date.now() - started);
          if (answer.kind === 'success') return { ...base, ok: true, newWorkerPids: freshWorkers(before, after), reason: '' };
          return { ...base, ok: false, newWorkerPids: [], reason: `${NOT_LOADED}: ${answer.errors.join(' | ')}` };
        }
      }
    }
  }

  async #pollReload(before: ProcInfo, started: number, deadline: number, timeoutMs: number): Promise<ReloadResult> {
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

  /** 2.6 answers nothing to `reload`; any text is a refusal. */
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
      throw new HaproxyError('HAPROXY_COMMAND_FAILED', `HAProxy master (${this.socket}) rejected "reload": ${shorten(answer)}`, {
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
    // 2.6 keeps the reason in HAProxy's own log only; the master CLI cannot show it.
    return { ...base, ok: false, newWorkerPids: [], reason: `${NOT_LOADED}; HAProxy's log (journalctl -u haproxy) says why` };
  }
  const fresh = freshWorkers(before, after);
  if (fresh.length === 0) return null;
  return { ...base, ok: true, newWorkerPids: fresh, reason: '' };
}

const NOT_LOADED = 'HAProxy could not load the new configuration; the previous workers keep serving';

function freshWorkers(before: ProcInfo, after: ProcInfo): number[] {
  const oldPids = new Set([...before.workers, ...before.oldWorkers].map((w) => w.pid));
  return after.workers.filter((w) => w.reloads === 0 && !oldPids.has(w.pid)).map((w) => w.pid);
}

export type ReloadAnswer =
  | { readonly kind: 'success' }
  | { readonly kind: 'failure'; readonly errors: readonly string[] }
  /** 3.1+: a reload is still loading; this one was not started. */
  | { readonly kind: 'busy' }
  /** Nothing came back (the connection closed first): the outcome must be read from `show proc`. */
  | { readonly kind: 'empty' }
  | { readonly kind: 'unknown' };

// "[ALERT]    (5409) : " and the like, in front of every startup-log line.
const LOG_LINE = /^\[(ALERT|WARNING|NOTICE)\]\s+\(\d+\)\s*:\s*(.*)$/;
const SHOWN_ERRORS = 3;
const MAX_ERROR_CHARS = 300;

/**
 * The master's answer to `reload` from 2.7 on: "Success=1" or "Success=0",
 * a "--" line, then the startup log of the new process. A failure keeps
 * HAProxy's own [ALERT] lines (the first few, trimmed) as its reason.
 */
export function parseReloadAnswer(text: string): ReloadAnswer {
  if (text === '') return { kind: 'empty' };
  const [status, separator, ...log] = text.split('\n');
  if ((status !== 'Success=1' && status !== 'Success=0') || (separator !== undefined && separator !== '--')) return { kind: 'unknown' };
  if (status === 'Success=1') return { kind: 'success' };
  if (log.some((line) => /^Another reload is still in progress/.test(line))) return { kind: 'busy' };
  return { kind: 'failure', errors: startupErrors(log) };
}

/** The [ALERT] lines, without their prefix; failing those, the [WARNING] lines; failing those, whatever was said. */
function startupErrors(log: readonly string[]): string[] {
  const parsed = log.map((line) => LOG_LINE.exec(line)).filter((m): m is RegExpExecArray => m !== null);
  const pick = (level: string): string[] => parsed.filter((m) => m[1] === level).map((m) => m[2] ?? '');
  const alerts = pick('ALERT');
  const chosen = alerts.length > 0 ? alerts : pick('WARNING').length > 0 ? pick('WARNING') : log.filter((line) => line.trim() !== '');
  const lines = chosen.slice(0, SHOWN_ERRORS).map((line) => (line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS)}...` : line));
  if (chosen.length > SHOWN_ERRORS) lines.push(`(+${chosen.length - SHOWN_ERRORS} more)`);
  return lines.length > 0 ? lines : ['(no startup log)'];
}

function shorten(text: string): string {
  const oneLine = text.split('\n').filter((line) => line.trim() !== '').slice(0, 5).join(' | ');
  return oneLine.length > 500 ? `${oneLine.slice(0, 500)}...` : oneLine || '(empty answer)';
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
 * 2.6 to 3.2 print a "#<PID> <type> <reloads> <uptime> <version>" header,
 * the master ("<reloads>" reads "3 [failed: 1]"), then "# workers", "# old
 * workers" (only when there are some), "# programs" and maybe "# old
 * programs" (3.1+ print no programs sections without programs). From 3.1,
 * while a reload fails, "# workers" is empty and the worker still serving
 * is listed under "# old workers".
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
