/**
 * Every error haproxy-sync reports carries a stable code from this table, so
 * operators can look it up (README, "Error codes") and alerts can match on it.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'The daemon config file (or an override) has a bad field; the message names the file, the field and the problem.',
  CONFIG_UNREADABLE: 'The daemon config file could not be read or parsed as YAML.',
  USAGE: 'Bad command-line flags or arguments.',
  SPEC_INVALID: 'An etcd vhost spec is not valid JSON or breaks the schema; that vhost keeps serving its last good version, or is left out if it never had one.',
  ACTIVE_INVALID: 'An etcd active-colour value is not a colour of the vhost; that vhost keeps serving its last good colour, or is left out if it never had a good version.',
  HOST_INVALID: 'An etcd key names a host that is not a DNS name; that key is ignored.',
  SERVICE_UNRESOLVED: 'A backend names a Service, or a port of it, that no source knows; that colour has no servers.',
  ENDPOINT_INVALID: 'An endpoint address or port from a source is malformed; it is left out.',
  STATIC_FILE_INVALID: 'The static services file is unreadable or malformed; the last good content stays in use.',
  CERTIFICATE_INVALID: 'A vhost\'s certificate (from a Secret or a file, named in the message) does not parse, its key does not match, it has expired or does not cover the host; only that vhost is touched, and its last good certificate keeps serving.',
  CERTIFICATE_MISSING: 'A vhost names a certificate that no source has: a Secret that does not exist or lies outside kubernetes.secretNamespaces, or a file missing from tls.dir; its last good certificate keeps serving.',
  TEMPLATE_INVALID: 'A template failed to compile or render, or tried to emit an unsafe value; the last good config keeps serving.',
  HAPROXY_CHECK_FAILED: 'The rendered config failed `haproxy -c`; it was not applied and the last good config keeps serving.',
  HAPROXY_CHECK_UNAVAILABLE: '`haproxy -c` could not run (binary missing, timed out, killed by the OOM killer): the config was neither judged nor applied; the daemon retries with backoff.',
  HAPROXY_RELOAD_FAILED: 'HAProxy did not confirm the reload, or could not load the new config (its own error lines are in the message from 2.7 on); the previous workers keep serving and the daemon retries with backoff.',
  HAPROXY_VERSION_UNSUPPORTED: 'The running HAProxy is older than 2.6; nothing is applied to it, and the daemon checks again with backoff.',
  HAPROXY_UNREACHABLE: 'The HAProxy master or admin socket did not answer.',
  HAPROXY_COMMAND_FAILED: 'A Runtime API command was refused; the daemon falls back to a reload.',
  HAPROXY_STATE_MISMATCH: 'After Runtime API changes, HAProxy\'s maps or servers (read back) differ from what was sent; the daemon falls back to a reload.',
  HAPROXY_FILES_UNWRITABLE: 'The HAProxy config or map files could not be written (permissions, full disk); nothing new was applied and the daemon retries.',
  HAPROXY_DRIFT: 'HAProxy\'s runtime state (map entries, server addresses, ports, admin states) differed from what the daemon applied, or HAProxy was restarted behind its back; the difference is logged and repaired.',
  STATE_INVALID: 'A file in the state directory (state.dir) could not be parsed or holds invalid entries; those entries are ignored.',
  STATE_UNWRITABLE: 'A file in the state directory (state.dir) could not be written; the daemon keeps serving and retries on the next sync.',
  SOURCE_ERROR: 'A source (etcd, Kubernetes, static file, templates) failed; it retries with backoff while the last data keeps serving.',
  ETCD_UNREACHABLE: 'No etcd endpoint answered (refused, timed out, or the client pausing after failed calls); the daemon keeps the last data, keeps serving, and retries with backoff.',
  SOURCE_STALLED: 'A watch delivered no event and no bookmark for longer than its bound; it was dropped and the data read afresh.',
  KUBERNETES_UNAUTHORIZED: 'The Kubernetes API refused the credentials (401) or the permission to list and watch (403); the source retries with backoff while the last data keeps serving.',
  FLIP_CONFLICT: 'A flip was refused: `expect` did not match the live colour, or another write changed the vhost first; nothing was written.',
  FLIP_UNHEALTHY: 'A flip was refused: the target colour has fewer than health.minReady servers HAProxy reports up; nothing was written (`force` skips the check).',
  FLIP_UNCONFIRMED: 'A flip was written to etcd, but not every live node reported applying it within timeoutMs; the answer names them.',
  LEDGER_FAILED: 'The flip ledger (history/<host>/…) could not be read or written in etcd; the flip itself stands, and the write is retried with backoff.',
  NODE_STATUS_FAILED: 'This node could not write its status key (nodes/<node>) to etcd; it retries with backoff.',
  UNAUTHORIZED: 'An API request had a missing or wrong bearer token; nothing was done.',
  BAD_REQUEST: 'An API request was malformed: not JSON, a wrong content type, an unknown or mistyped field, or a body too large.',
  NOT_FOUND: 'An API request named an unknown route, vhost or colour.',
  METHOD_NOT_ALLOWED: 'The API route exists, but not for this HTTP method.',
  API_UNREACHABLE: 'The flip or status command could not reach the daemon API, or its answer was not JSON.',
  SYSTEMD_NOTIFY_FAILED: 'Running systemd-notify failed, so systemd may not see readiness or watchdog pings; the daemon keeps running.',
  SHUTDOWN_TIMEOUT: 'A graceful stop took longer than its deadline; the process exited without waiting for the rest.',
  INTERNAL: 'An unexpected failure inside haproxy-sync (a bug); the daemon keeps running and retries.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SyncError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SyncError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return 'INTERNAL';
}
