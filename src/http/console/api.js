// @ts-check
/**
 * The console's calls to the daemon API, on the origin that served the
 * page. The token, when the API needs one, lives in this tab's session
 * storage only (never a cookie, never local storage) and goes out as a
 * bearer token.
 */

const TOKEN_KEY = 'haproxy-sync-token';

export class Unauthorized extends Error {}

/** @returns {string | null} */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** @param {string | null} value */
export function setToken(value) {
  if (value === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<{ status: number, body: any }>}
 */
export async function call(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const t = token();
  if (t) headers['authorization'] = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, cache: 'no-store', credentials: 'omit', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (res.status === 401) throw new Unauthorized(t ? 'the token was refused' : 'this API needs a token');
  return { status: res.status, body: await res.json() };
}

/**
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function get(path) {
  const res = await call('GET', path);
  if (res.status !== 200) throw new Error(`${path}: ${res.body?.error?.message ?? `HTTP ${res.status}`}`);
  return res.body;
}
