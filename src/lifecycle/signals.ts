/**
 * Stop signals: the first SIGTERM or SIGINT asks for a graceful stop; a
 * second one ends the process at once, with the conventional 128+N status.
 */
import { constants } from 'node:os';

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * Installs the handlers now (so a signal during startup is not lost, nor
 * fatal) and resolves with the first signal. `onSecond` runs on any later one.
 */
export function awaitStopSignal(onSecond: (signal: StopSignal) => void): Promise<StopSignal> {
  return new Promise((resolve) => {
    let first: StopSignal | null = null;
    const handler = (signal: StopSignal): void => {
      if (first === null) {
        first = signal;
        resolve(signal);
      } else onSecond(signal);
    };
    for (const signal of STOP_SIGNALS) process.on(signal, handler);
  });
}

export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}
