/**
 * Bearer-token check for the API. The token comes from api.tokenFile; the
 * comparison runs in constant time over fixed-length digests, so neither the
 * token's content nor its length leaks through response timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { SyncError, errorMessage } from '../errors.ts';
import { apiError, type Handler } from './server.ts';

/** The token in `file` (surrounding whitespace trimmed); a missing, unreadable or empty file is a config error. */
export function readApiToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SyncError('CONFIG_INVALID', `api.tokenFile: cannot read ${file} (${errorMessage(err)})`);
  }
  const token = text.trim();
  if (token === '') throw new SyncError('CONFIG_INVALID', `api.tokenFile: ${file} is empty; put the API token in it`);
  if (/\s/.test(token)) throw new SyncError('CONFIG_INVALID', `api.tokenFile: ${file} must hold one token without whitespace`);
  return token;
}

export function tokenMatches(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  const presented = m?.[1] ?? '';
  return timingSafeEqual(digest(presented), digest(token)) && presented !== '';
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Wraps a handler so it runs only with the right token; with no token configured (loopback only) it always runs. */
export function authorized(token: string | null, handler: Handler, onRefused?: () => void): Handler {
  if (token === null) return handler;
  return (req, params) => {
    if (tokenMatches(req, token)) return handler(req, params);
    onRefused?.();
    const why = req.headers.authorization ? 'the bearer token is wrong' : 'an Authorization: Bearer <token> header is required';
    return apiError(401, 'UNAUTHORIZED', `${why} (the token is in the file named by api.tokenFile)`, {}, { 'www-authenticate': 'Bearer' });
  };
}
