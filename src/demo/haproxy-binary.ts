/**
 * The one place that decides which HAProxy the demo and the tests run:
 * `$HAPROXY_BIN` (an absolute path, e.g. a binary from another Debian
 * release), else `haproxy` on PATH.
 */
import { isAbsolute } from 'node:path';

export const HAPROXY_BIN_VARIABLE = 'HAPROXY_BIN';

export function haproxyBinary(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env[HAPROXY_BIN_VARIABLE];
  if (chosen === undefined || chosen === '') return 'haproxy';
  if (!isAbsolute(chosen)) throw new Error(`${HAPROXY_BIN_VARIABLE}=${chosen}: must be an absolute path to a haproxy binary`);
  return chosen;
}
