/**
 * JSON logs (pino), one object per line: to stdout for the daemon, to stderr
 * for one-shot commands so stdout stays clean. Under systemd, when stdout is
 * the journal's stream, each line starts with its syslog priority ("<3>"),
 * which journald strips and stores, so `journalctl -p err` finds errors and
 * the stored message is the bare JSON object.
 */
import { fstatSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

/** pino's level names → syslog priorities (debug 7, info 6, warning 4, err 3, crit 2). */
const PRIORITY: Readonly<Record<string, number>> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };
const LEVEL_AT = '{"level":"'.length;

export function createLogger(level: LogLevel, dest: 'stdout' | 'stderr' | DestinationStream = 'stdout', env: NodeJS.ProcessEnv = process.env): Logger {
  const stream = typeof dest === 'string' ? fdStream(dest === 'stdout' ? 1 : 2, env) : dest;
  return pino(
    { level, base: { name: 'haproxy-sync' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    stream,
  );
}

function fdStream(fd: number, env: NodeJS.ProcessEnv): DestinationStream {
  const out = pino.destination({ fd, sync: true });
  return writesToJournal(fd, env) ? withPriorityPrefix(out) : out;
}

/** systemd sets JOURNAL_STREAM to "<device>:<inode>" of the journal's stream; it is ours only if fd still is that stream. */
export function writesToJournal(fd: number, env: NodeJS.ProcessEnv): boolean {
  const match = /^(\d+):(\d+)$/.exec(env['JOURNAL_STREAM'] ?? '');
  if (!match) return false;
  try {
    const st = fstatSync(fd);
    return String(st.dev) === match[1] && String(st.ino) === match[2];
  } catch {
    return false;
  }
}

/** Every line this module's logger writes starts with {"level":"<name>". */
export function withPriorityPrefix(out: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      const name = line.slice(LEVEL_AT, line.indexOf('"', LEVEL_AT));
      out.write(`<${PRIORITY[name] ?? 6}>${line}`);
    },
  };
}
