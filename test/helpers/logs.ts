import type { Logger } from 'pino';
import { createLogger } from '../../src/log.ts';

export interface CapturedLogger {
  readonly log: Logger;
  /** Every record written so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
}

/** A debug-level logger whose records a test can read; TEST_LOG=1 also prints them. */
export function captureLogs(): CapturedLogger {
  const logs: Array<Record<string, unknown>> = [];
  const stream = {
    write(line: string): void {
      logs.push(JSON.parse(line) as Record<string, unknown>);
      if (process.env['TEST_LOG']) process.stderr.write(line);
    },
  };
  return { log: createLogger('debug', stream), logs };
}
