/**
 * The etcd client's errors in our words. Its circuit breaker answers "circuit
 * breaker is open" for a few seconds after calls failed, which says nothing
 * to an operator; both that and a refused or timed-out connection mean the
 * same thing here: etcd is unreachable.
 */
import { SyncError, errorMessage, type ErrorCode } from '../errors.ts';

const UNREACHABLE = /\b(UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|ENOTFOUND|No connection established)\b/;

export function isEtcdUnreachable(err: unknown): boolean {
  if (err && typeof err === 'object' && 'isBrokenCircuitError' in err && err.isBrokenCircuitError === true) return true;
  const name = err instanceof Error ? err.constructor.name : '';
  return name === 'GRPCUnavailableError' || name === 'GRPCDeadlineExceededError' || UNREACHABLE.test(errorMessage(err));
}

/** An etcd failure as a SyncError: ETCD_UNREACHABLE naming the endpoints, else `fallback` with the client's message. */
export function describeEtcdError(err: unknown, endpoints: readonly string[], fallback: ErrorCode): SyncError {
  if (!isEtcdUnreachable(err)) return new SyncError(fallback, errorMessage(err), { cause: err });
  const circuit = err && typeof err === 'object' && 'isBrokenCircuitError' in err;
  const why = circuit ? 'recent calls failed, so the client waits a few seconds before trying again' : cleanGrpcMessage(errorMessage(err));
  const at = endpoints.length > 0 ? ` at ${endpoints.join(', ')}` : '';
  return new SyncError('ETCD_UNREACHABLE', `etcd is unreachable${at}: ${why}`, { cause: err });
}

/** "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: " → "connect ECONNREFUSED 127.0.0.1:1". */
function cleanGrpcMessage(message: string): string {
  const last = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(message);
  return (last?.[1] ?? message).trim();
}
