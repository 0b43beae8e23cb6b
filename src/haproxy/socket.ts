import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HaproxyError } from './errors.ts';

export interface ExchangeOptions {
  /** Budget for connecting (retries included), and the longest silence tolerated while reading. */
  timeoutMs: number;
  /**
   * The payload is a read-only query: a reset connection or an empty answer
   * (the master CLI accepts, then drops, connections while it re-executes
   * during a reload) may then be retried as well.
   */
  idempotent?: boolean;
  onRetry?: (reason: string, attempt: number) => void;
  /**
   * Takes the answer as it arrives, chunk by chunk, instead of it being
   * returned whole: a large answer is then never held at once, and each
   * chunk is handled in its own turn of the event loop. Only for queries
   * whose every attempt that reached HAProxy ends the exchange (no retry
   * after data has flowed).
   */
  onChunk?: (chunk: Buffer) => void;
}

type Outcome =
  | { kind: 'answer'; text: string }
  | { kind: 'connect-error'; code: string; error: Error }
  | { kind: 'io-error'; code: string; error: Error }
  | { kind: 'timeout'; connected: boolean };

// The master socket refuses connections (or the file is briefly missing)
// while the master re-executes itself during a reload.
const CONNECT_RETRY = new Set(['ECONNREFUSED', 'ENOENT', 'EAGAIN']);
const IDEMPOTENT_RETRY = new Set(['ECONNRESET', 'EPIPE']);
const FIRST_BACKOFF_MS = 5;
const MAX_BACKOFF_MS = 100;

/** Sends `payload`, half-closes our side, and returns everything HAProxy writes until it closes. */
export async function exchange(address: string, payload: string, opts: ExchangeOptions): Promise<string> {
  const deadline = Date.now() + opts.timeoutMs;
  let backoff = FIRST_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptOnce(address, payload, opts.timeoutMs, opts.onChunk);
    if (outcome.kind === 'answer' && (outcome.text !== '' || opts.idempotent !== true)) return outcome.text;
    const reason = retryReason(outcome, opts.idempotent === true);
    if (reason === null || Date.now() + backoff > deadline) throw toError(outcome, address, payload, opts.timeoutMs);
    opts.onRetry?.(reason, attempt);
    await sleep(backoff);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

function retryReason(outcome: Outcome, idempotent: boolean): string | null {
  switch (outcome.kind) {
    case 'connect-error':
      return CONNECT_RETRY.has(outcome.code) ? outcome.code : null;
    case 'io-error':
      return idempotent && IDEMPOTENT_RETRY.has(outcome.code) ? outcome.code : null;
    case 'answer':
      return idempotent ? 'empty answer' : null;
    case 'timeout':
      return null;
  }
}

function attemptOnce(address: string, payload: string, timeoutMs: number, onChunk?: (chunk: Buffer) => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let connected = false;
    const socket = net.createConnection(connectTarget(address));
    const finish = (outcome: Outcome): void => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs);
    socket.on('connect', () => {
      connected = true;
      // The master CLI only closes once the client half-closes.
      socket.end(payload);
    });
    socket.on('data', (chunk: Buffer) => (onChunk ? onChunk(chunk) : chunks.push(chunk)));
    socket.on('end', () => finish({ kind: 'answer', text: Buffer.concat(chunks).toString('utf8') }));
    socket.on('timeout', () => finish({ kind: 'timeout', connected }));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'EUNKNOWN';
      finish(connected ? { kind: 'io-error', code, error } : { kind: 'connect-error', code, error });
    });
  });
}

/** A path (anything containing '/') is a UNIX socket; otherwise host:port or [v6]:port. */
export function connectTarget(address: string): net.NetConnectOpts {
  if (address.includes('/')) return { path: address };
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address);
  if (match === null || match[1] === undefined || match[2] === undefined) return { path: address };
  return { host: match[1], port: Number(match[2]) };
}

function toError(outcome: Outcome, address: string, payload: string, timeoutMs: number): HaproxyError {
  const command = describePayload(payload);
  const details = { socket: address, command };
  switch (outcome.kind) {
    case 'connect-error':
      return new HaproxyError('HAPROXY_SOCKET_UNREACHABLE', unreachableMessage(address, outcome.code, timeoutMs), {
        ...details,
        cause: outcome.error,
      });
    case 'io-error':
      return new HaproxyError(
        'HAPROXY_CONNECTION_LOST',
        `HAProxy socket ${address}: connection lost (${outcome.code}) before the answer to "${command}" was complete; ` +
          'HAProxy may be reloading or restarting, and the command may or may not have been applied',
        { ...details, cause: outcome.error },
      );
    case 'timeout':
      return new HaproxyError(
        'HAPROXY_SOCKET_TIMEOUT',
        outcome.connected
          ? `HAProxy socket ${address}: no answer to "${command}" for ${timeoutMs} ms; HAProxy may be overloaded or stuck`
          : `HAProxy socket ${address}: connecting took longer than ${timeoutMs} ms`,
        details,
      );
    case 'answer':
      return new HaproxyError(
        'HAPROXY_CONNECTION_LOST',
        `HAProxy socket ${address}: kept closing without answering "${command}" for ${timeoutMs} ms; HAProxy may be stuck reloading`,
        details,
      );
  }
}

function unreachableMessage(address: string, code: string, timeoutMs: number): string {
  const base = `cannot connect to HAProxy socket ${address} (${code})`;
  switch (code) {
    case 'ENOENT':
      return `${base}: no such socket after retrying for ${timeoutMs} ms; is HAProxy running, and does its "stats socket" line or -S flag name this path?`;
    case 'ECONNREFUSED':
      return `${base}: nothing listens there after retrying for ${timeoutMs} ms; is HAProxy running?`;
    case 'EACCES':
    case 'EPERM':
      return `${base}: permission denied; give this user access to the socket (mode/user/group on the "stats socket" line)`;
    default:
      return `${base}; check the socket path in the configuration`;
  }
}

function describePayload(payload: string): string {
  const lines = payload.split('\n').filter((line) => line !== '' && line !== 'prompt');
  const first = lines[0] ?? '';
  return lines.length > 1 ? `${first} (+${lines.length - 1} more)` : first;
}
