/**
 * Serves the operator console: the page at `/` and its assets under
 * `/console/`, all shipped with the daemon (nothing from outside), under a
 * strict Content-Security-Policy. The page holds no data: everything it
 * shows comes from the /v1/ routes, with the same bearer token as any
 * other client.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { apiError, type Reply, type Route } from './server.ts';

const DIR = join(import.meta.dirname, 'console');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Scripts, styles, images and API calls from this origin only; no inline code, no frames, no forms posting elsewhere. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

/** The console's files, read once: a daemon serves what it was started with. */
function loadAssets(): Map<string, { contentType: string; body: string }> {
  const assets = new Map<string, { contentType: string; body: string }>();
  for (const name of readdirSync(DIR)) {
    const contentType = TYPES[extname(name)];
    if (contentType) assets.set(name, { contentType, body: readFileSync(join(DIR, name), 'utf8') });
  }
  return assets;
}

export function consoleRoutes(): Route[] {
  const assets = loadAssets();
  const serve = (name: string): Reply => {
    const asset = assets.get(name);
    if (!asset) return apiError(404, 'NOT_FOUND', `no console file ${name}`);
    return { status: 200, body: null, text: asset, headers: HEADERS };
  };
  return [
    { method: 'GET', path: /^\/$/, handler: () => serve('index.html') },
    { method: 'GET', path: /^\/console\/([A-Za-z0-9._-]+)$/, handler: (_req, [name = '']) => serve(name) },
  ];
}
