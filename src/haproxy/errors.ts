// Stable codes let callers (metrics, logs, the reconciler's retry policy)
// branch on the kind of failure without parsing messages.
export type HaproxyErrorCode =
  | 'HAPROXY_SOCKET_UNREACHABLE'
  | 'HAPROXY_SOCKET_TIMEOUT'
  | 'HAPROXY_CONNECTION_LOST'
  | 'HAPROXY_COMMAND_FAILED'
  | 'HAPROXY_INVALID_ARGUMENT'
  | 'HAPROXY_RELOAD_FAILED'
  | 'HAPROXY_VERSION_UNSUPPORTED';

export interface HaproxyErrorDetails {
  socket?: string;
  command?: string;
  answer?: string;
  cause?: unknown;
}

export class HaproxyError extends Error {
  readonly code: HaproxyErrorCode;
  readonly socket: string | undefined;
  readonly command: string | undefined;
  /** HAProxy's own words, kept verbatim so an operator can search for them. */
  readonly answer: string | undefined;

  constructor(code: HaproxyErrorCode, message: string, details: HaproxyErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'HaproxyError';
    this.code = code;
    this.socket = details.socket;
    this.command = details.command;
    this.answer = details.answer;
  }
}

export function isHaproxyError(err: unknown, code?: HaproxyErrorCode): err is HaproxyError {
  return err instanceof HaproxyError && (code === undefined || err.code === code);
}
