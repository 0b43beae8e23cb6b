/**
 * Talks to systemd (Type=notify): READY=1 once the daemon runs, STATUS=
 * lines, STOPPING=1 on shutdown, and WATCHDOG=1 pings while the event loop
 * turns. Node has no UNIX datagram sockets, so each message goes through
 * systemd's own `systemd-notify` tool, which waits until the manager has
 * read the message (sd_notify_barrier); that wait is what makes messages
 * from a short-lived helper process reliable (the unit sets NotifyAccess=all).
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.ts';

export interface SystemdEnv {
  readonly socket: string;
  /** Ping interval: half of WatchdogSec, as sd_watchdog_enabled(3) advises; null without a watchdog. */
  readonly watchdogMs: number | null;
}

/**
 * Reads and removes NOTIFY_SOCKET and the watchdog variables, so child
 * processes (haproxy -c) cannot speak for this service. Null when not run
 * by systemd with Type=notify.
 */
export function takeSystemdEnv(env: NodeJS.ProcessEnv, pid: number): SystemdEnv | null {
  const socket = env['NOTIFY_SOCKET'];
  const usec = Number(env['WATCHDOG_USEC']);
  const watchdogPid = env['WATCHDOG_PID'];
  for (const name of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[name];
  if (!socket) return null;
  const forUs = watchdogPid === undefined || Number(watchdogPid) === pid;
  const watchdogMs = forUs && Number.isFinite(usec) && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : null;
  return { socket, watchdogMs };
}

export class SystemdNotifier {
  private readonly env: SystemdEnv;
  private readonly log: Logger;
  private readonly binary: string;
  private queue: Promise<void> = Promise.resolve();
  private watchdog: NodeJS.Timeout | null = null;
  private failuresLogged = 0;

  constructor(env: SystemdEnv, log: Logger, binary = 'systemd-notify') {
    this.env = env;
    this.log = log;
    this.binary = binary;
  }

  ready(status: string): Promise<void> {
    this.startWatchdog();
    return this.send(['READY=1', `STATUS=${status}`]);
  }

  status(status: string): Promise<void> {
    return this.send([`STATUS=${status}`]);
  }

  stopping(): Promise<void> {
    this.stopWatchdog();
    return this.send(['STOPPING=1', 'STATUS=stopping']);
  }

  /** Messages go out one at a time, in order; a failure is logged, never thrown. */
  private send(assignments: readonly string[]): Promise<void> {
    this.queue = this.queue.then(() => this.exec(assignments));
    return this.queue;
  }

  private exec(assignments: readonly string[]): Promise<void> {
    return new Promise((resolve) => {
      const env = { ...process.env, NOTIFY_SOCKET: this.env.socket };
      execFile(this.binary, [...assignments], { env, timeout: 10000 }, (err, _stdout, stderr) => {
        if (err) this.failed(assignments, `${errorMessage(err)} ${stderr}`.trim());
        resolve();
      });
    });
  }

  private failed(assignments: readonly string[], message: string): void {
    // A broken notify path would log on every watchdog ping; the first few say enough.
    if (this.failuresLogged >= 3) return;
    this.failuresLogged += 1;
    this.log.error({ code: 'SYSTEMD_NOTIFY_FAILED', message: assignments.join(' '), err: message }, `cannot notify systemd through ${this.binary}`);
  }

  private startWatchdog(): void {
    const every = this.env.watchdogMs;
    if (every === null || this.watchdog) return;
    this.watchdog = setInterval(() => void this.send(['WATCHDOG=1']), every);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }
}
