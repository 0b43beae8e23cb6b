/** How the flip and status commands reach a daemon's HTTP API: the address and token from its config, or --api. */
import type { Config } from '../config.ts';
import { parseListen } from '../config.ts';
import { SyncError, errorMessage } from '../errors.ts';
import { readApiToken } from '../http/auth.ts';

export interface ApiTarget {
  readonly base: string;
  readonly token: string | null;
}

export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

export const API_FLAG_HELP = `  --api URL            the daemon's API (default: http:// + api.listen from the config; a wildcard
                       listen address is reached on loopback); the token is read from api.tokenFile`;

export function apiTarget(config: Config, override: string | undefined): ApiTarget {
  const token = config.api.tokenFile ? readApiToken(config.api.tokenFile) : null;
  return { base: override === undefined ? fromListen(config.api.listen) : fromFlag(override), token };
}

function fromListen(listen: string): string {
  const addr = parseListen(listen);
  if (!addr) throw new SyncError('CONFIG_INVALID', `api.listen: "${listen}" is not host:port`);
  const host = addr.host === '' || addr.host === '0.0.0.0' ? '127.0.0.1' : addr.host === '::' ? '::1' : addr.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
}

function fromFlag(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SyncError('USAGE', `--api: "${url}" is not a URL like http://127.0.0.1:9180`);
  }
  if (!['http:', 'https:'].includes(parsed.protocol) || parsed.search || parsed.hash) {
    throw new SyncError('USAGE', `--api: "${url}" must be an http(s) URL like http://127.0.0.1:9180`);
  }
  return parsed.href.replace(/\/+$/, '');
}

/** One API call; a daemon that cannot be reached is an error naming the address. */
export async function callApi(target: ApiTarget, method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (target.token) headers['authorization'] = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${target.base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new SyncError('API_UNREACHABLE', `cannot reach the haproxy-sync API at ${target.base} (${errorMessage(err)}${cause}); is the daemon running? (--api sets the address)`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    throw new SyncError('API_UNREACHABLE', `${target.base}${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** The `{error: {code, message}}` of an API error answer, as one line. */
export function apiErrorLine(answer: ApiAnswer): string {
  const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return `${String(error?.message ?? 'no message')} [${String(error?.code ?? `HTTP ${answer.status}`)}]`;
}
