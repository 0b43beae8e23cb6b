/**
 * Parses and validates a vhost spec as stored in etcd. Strict: an unknown
 * field is an error, because a misspelt "helth" silently ignored is worse
 * than a vhost reported as broken.
 */
import type { Balance, CertificateRef, VHostSpec } from './model.ts';
import { checkCertificateFileName, checkColour, checkSecretRef, checkHttpPath, checkPortRef, checkServiceRef } from './validate.ts';

const BALANCES: readonly Balance[] = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random'];
const MAX_BACKENDS = 16;
/** Two years, the longest max-age browsers' preload lists ask for, with room to spare. */
const MAX_HSTS_SECONDS = 126144000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export function parseSpec(text: string): VHostSpec | string {
  let raw: Json;
  try {
    raw = JSON.parse(text) as Json;
  } catch (err) {
    return `not valid JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  try {
    return specFrom(raw);
  } catch (err) {
    if (err instanceof SpecError) return err.message;
    throw err;
  }
}

class SpecError extends Error {}

function fail(field: string, problem: string): never {
  throw new SpecError(`${field}: ${problem}`);
}

function anyObject(value: Json | undefined, field: string): JsonObject {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) fail(field, 'must be an object');
  return value;
}

function object(value: Json | undefined, field: string, allowed: readonly string[]): JsonObject {
  const obj = anyObject(value, field);
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail(field === '(spec)' ? key : `${field}.${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
  }
  return obj;
}

function string(value: Json | undefined, field: string, check: (s: string) => string | null): string {
  if (typeof value !== 'string') fail(field, 'must be a string');
  const problem = check(value);
  if (problem) fail(field, problem);
  return value;
}

function specFrom(raw: Json): VHostSpec {
  const spec = object(raw, '(spec)', ['backends', 'default', 'health', 'balance', 'tls', 'redirect', 'hsts']);
  const backends = parseBackends(spec['backends']);
  const colours = Object.keys(backends);
  const fallback = colours.length === 1 ? colours[0] : undefined;
  const def = spec['default'] === undefined && fallback ? fallback : string(spec['default'], 'default', checkColour);
  if (!colours.includes(def)) fail('default', `"${def}" is not one of the backends (${colours.join(', ')})`);
  return {
    backends,
    default: def,
    health: parseHealth(spec['health']),
    balance: parseBalance(spec['balance']),
    ...parseTls(spec['tls'], spec['redirect'], spec['hsts']),
  };
}

function parseTls(value: Json | undefined, redirect: Json | undefined, hsts: Json | undefined): Pick<VHostSpec, 'tls' | 'redirect' | 'hsts'> {
  const tls = value === undefined || value === null ? null : parseCertificateRef(value);
  if (!tls && redirect === undefined && hsts === undefined) return {};
  if (redirect !== undefined && typeof redirect !== 'boolean') fail('redirect', 'must be true or false');
  if (redirect === true && !tls) fail('redirect', 'needs a tls certificate (HTTPS) to redirect to');
  if (hsts !== undefined && (typeof hsts !== 'number' || !Number.isInteger(hsts) || hsts < 0 || hsts > MAX_HSTS_SECONDS)) {
    fail('hsts', `must be a max-age in whole seconds from 0 to ${MAX_HSTS_SECONDS}`);
  }
  if (hsts !== undefined && !tls) fail('hsts', 'needs a tls certificate (the header is sent over HTTPS only)');
  return { ...(tls ? { tls } : {}), redirect: redirect === true, ...(typeof hsts === 'number' ? { hsts } : {}) };
}

function parseCertificateRef(value: Json): CertificateRef {
  const tls = object(value, 'tls', ['secret', 'file']);
  const secret = tls['secret'];
  const file = tls['file'];
  if ((secret === undefined) === (file === undefined)) fail('tls', 'name exactly one of secret ("namespace/name") or file ("name.pem")');
  if (secret !== undefined) {
    const ref = string(secret, 'tls.secret', checkSecretRef);
    const [namespace = '', name = ''] = ref.split('/');
    return { kind: 'secret', namespace, name };
  }
  return { kind: 'file', name: string(file, 'tls.file', checkCertificateFileName) };
}

function parseBackends(value: Json | undefined): VHostSpec['backends'] {
  if (value === undefined) fail('backends', 'is required');
  const entries = Object.entries(anyObject(value, 'backends'));
  if (entries.length === 0) fail('backends', 'must name at least one colour');
  if (entries.length > MAX_BACKENDS) fail('backends', `at most ${MAX_BACKENDS} colours`);
  const out: Record<string, { service: string; port: string }> = {};
  for (const [colour, b] of entries.sort(([a], [z]) => (a < z ? -1 : 1))) {
    const field = `backends.${colour}`;
    const colourProblem = checkColour(colour);
    if (colourProblem) fail('backends', colourProblem);
    const backend = object(b, field, ['service', 'port']);
    const port = typeof backend['port'] === 'number' ? String(backend['port']) : backend['port'];
    out[colour] = {
      service: string(backend['service'], `${field}.service`, checkServiceRef),
      port: string(port, `${field}.port`, checkPortRef),
    };
  }
  return out;
}

function parseHealth(value: Json | undefined): VHostSpec['health'] {
  if (value === undefined) return { path: null, minReady: 1 };
  const health = object(value, 'health', ['path', 'minReady']);
  const path = health['path'] === undefined ? null : string(health['path'], 'health.path', checkHttpPath);
  const minReady = health['minReady'] ?? 1;
  if (typeof minReady !== 'number' || !Number.isInteger(minReady) || minReady < 0 || minReady > 10000) {
    fail('health.minReady', 'must be a whole number from 0 to 10000');
  }
  return { path, minReady };
}

function parseBalance(value: Json | undefined): Balance {
  if (value === undefined) return 'roundrobin';
  const found = BALANCES.find((b) => b === value);
  if (!found) fail('balance', `must be one of ${BALANCES.join(', ')}`);
  return found;
}
