/** `haproxy -c`: the same parser HAProxy uses at load time, run on a staged file before it goes live. */
import { execFile } from 'node:child_process';

export interface CheckResult {
  readonly ok: boolean;
  /** HAProxy's ALERT and WARNING lines (or the spawn error), for the log and the API. */
  readonly messages: readonly string[];
  readonly durationMs: number;
  /** The check could not run at all (binary missing, timeout, killed): says nothing about the config. */
  readonly unavailable?: boolean;
}

export function checkConfig(binary: string, file: string, timeoutMs = 120000): Promise<CheckResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(binary, ['-c', '-f', file], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const durationMs = performance.now() - started;
      const lines = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('[NOTICE]') && l !== 'Configuration file is valid');
      if (!err) return resolve({ ok: true, messages: lines, durationMs });
      const unavailable = notRun(binary, err, timeoutMs);
      if (unavailable) return resolve({ ok: false, messages: [unavailable], durationMs, unavailable: true });
      resolve({ ok: false, messages: lines.length > 0 ? lines : [err.message], durationMs });
    });
  });
}

/** Why `haproxy -c` gave no verdict, or null when it ran and judged the config. */
function notRun(binary: string, err: Error & { code?: unknown; killed?: boolean; signal?: NodeJS.Signals | null }, timeoutMs: number): string | null {
  if (err.code === 'ENOENT') return `cannot run ${binary}: not found (install haproxy or set haproxy.binary)`;
  if (typeof err.code === 'string') return `cannot run ${binary}: ${err.code}`;
  if (err.killed && err.signal === 'SIGTERM') return `${binary} -c did not finish within ${timeoutMs} ms and was stopped`;
  // HAProxy never ends itself by a signal: SIGKILL is the OOM killer or a person.
  if (err.signal) return `${binary} -c was killed by ${err.signal} (out of memory?)`;
  return null;
}
