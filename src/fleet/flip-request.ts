/**
 * The body of POST /v1/vhosts/{host}/flip, parsed strictly: an unknown or
 * mistyped field is refused, so a typo such as "forse" never flips an
 * unhealthy colour by accident of defaults.
 */
import { checkReason } from '../core/ledger.ts';
import { checkColour } from '../core/validate.ts';

export interface FlipRequest {
  readonly to: string;
  readonly expect: string | null;
  readonly force: boolean;
  readonly wait: boolean;
  readonly timeoutMs: number;
  /** Why, for the flip ledger; null when none was given. */
  readonly reason: string | null;
}

export const DEFAULT_FLIP_TIMEOUT_MS = 5000;
export const MAX_FLIP_TIMEOUT_MS = 120_000;
const FIELDS = ['to', 'expect', 'force', 'wait', 'timeoutMs', 'reason'];

/** The request, or a sentence saying what is wrong with it. */
export function parseFlipRequest(text: string): FlipRequest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return `body is not valid JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'body must be a JSON object like {"to": "green"}';
  const body = raw as Record<string, unknown>;
  const unknown = Object.keys(body).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) return `${unknown}: unknown field (allowed: ${FIELDS.join(', ')})`;
  const to = colour(body['to'], 'to');
  if (to === undefined) return 'to: is required (the colour to flip to)';
  if (to.problem) return to.problem;
  const expect = body['expect'] === undefined || body['expect'] === null ? null : colour(body['expect'], 'expect');
  if (expect?.problem) return expect.problem;
  const force = flag(body['force'], 'force', false);
  const wait = flag(body['wait'], 'wait', true);
  const timeoutMs = body['timeoutMs'] ?? DEFAULT_FLIP_TIMEOUT_MS;
  if (typeof force === 'string') return force;
  if (typeof wait === 'string') return wait;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_FLIP_TIMEOUT_MS) {
    return `timeoutMs: must be a whole number of milliseconds from 1 to ${MAX_FLIP_TIMEOUT_MS}`;
  }
  const reason = body['reason'] ?? null;
  if (reason !== null && typeof reason !== 'string') return 'reason: must be a string';
  const reasonProblem = reason === null ? null : checkReason(reason);
  if (reasonProblem) return `reason: ${reasonProblem}`;
  return { to: to.value, expect: expect?.value ?? null, force, wait, timeoutMs, reason: reason === null || reason.trim() === '' ? null : reason.trim() };
}

function colour(value: unknown, field: string): { value: string; problem?: string } | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return { value: '', problem: `${field}: must be a string` };
  const problem = checkColour(value);
  return problem ? { value, problem: `${field}: ${problem}` } : { value };
}

function flag(value: unknown, field: string, fallback: boolean): boolean | string {
  if (value === undefined) return fallback;
  return typeof value === 'boolean' ? value : `${field}: must be true or false`;
}
