/** JSON logs (pino) to stdout for the daemon, to stderr for one-shot commands so stdout stays clean. */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export function createLogger(level: LogLevel, dest: 'stdout' | 'stderr' | DestinationStream = 'stdout'): Logger {
  const stream = typeof dest === 'string' ? pino.destination({ fd: dest === 'stdout' ? 1 : 2, sync: true }) : dest;
  return pino(
    { level, base: { name: 'haproxy-sync' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    stream,
  );
}
