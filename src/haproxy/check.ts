/** `haproxy -c`: the same parser HAProxy uses at load time, run on a staged file before it goes live. */
import { execFile } from 'node:child_process';

export interface CheckResult {
  readonly ok: boolean;
  /** HAProxy's ALERT and WARNING lines (or the spawn error), for the log and the API. */
  readonly messages: readonly string[];
  readonly durationMs: number;
}

export function checkConfig(binary: string, file: string, timeoutMs = 120000): Promise<CheckResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(binary, ['-c', '-f', file], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const durationMs = performance.now() - started;
      const lines = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('[NOTICE]') && l !== 'Configuration file is valid');
      if (!err) return resolve({ ok: true, messages: lines, durationMs });
      const spawnFailed = (err as NodeJS.ErrnoException).code === 'ENOENT';
      const messages = spawnFailed ? [`cannot run ${binary}: not found (install haproxy or set haproxy.binary)`] : lines.length > 0 ? lines : [err.message];
      resolve({ ok: false, messages, durationMs });
    });
  });
}
