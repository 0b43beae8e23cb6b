/**
 * The daemon's HTTP API: a small route table on node:http. Every error is
 * JSON with a code and a message.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { parseListen } from '../config.ts';
import { errorMessage, type ErrorCode } from '../errors.ts';

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  /** Sent as is with this content type instead of JSON. */
  readonly text?: { readonly contentType: string; readonly body: string };
  readonly headers?: Readonly<Record<string, string>>;
}

export type Handler = (req: IncomingMessage, params: readonly string[]) => Promise<Reply> | Reply;

export interface Route {
  readonly method: string;
  readonly path: RegExp;
  readonly handler: Handler;
}

export function json(status: number, body: unknown): Reply {
  return { status, body };
}

export function apiError(status: number, code: ErrorCode, message: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>): Reply {
  return { status, body: { error: { code, message, ...extra } }, ...(headers ? { headers } : {}) };
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(listen: string, routes: readonly Route[], log: Logger): Promise<HttpServer> {
  const addr = parseListen(listen);
  if (!addr) throw new Error(`bad listen address ${listen}`);
  const server = createServer((req, res) => void handle(routes, req, res, log));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => resolve());
  });
  return { port: (server.address() as AddressInfo).port, close: () => closeServer(server) };
}

async function handle(routes: readonly Route[], req: IncomingMessage, res: ServerResponse, log: Logger): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  let reply: Reply;
  try {
    reply = await dispatch(routes, req, path);
  } catch (err) {
    log.error({ code: 'INTERNAL', err: errorMessage(err), path }, 'API handler failed');
    reply = apiError(500, 'INTERNAL', errorMessage(err));
  }
  if (reply.text) {
    res.writeHead(reply.status, { ...reply.headers, 'content-type': reply.text.contentType });
    res.end(reply.text.body);
    return;
  }
  res.writeHead(reply.status, { ...reply.headers, 'content-type': 'application/json' });
  res.end(`${JSON.stringify(reply.body)}\n`);
}

async function dispatch(routes: readonly Route[], req: IncomingMessage, path: string): Promise<Reply> {
  let pathMatched = false;
  for (const route of routes) {
    const m = route.path.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== req.method) continue;
    const params = decodeParams(m.slice(1));
    return params ? route.handler(req, params) : apiError(400, 'BAD_REQUEST', `${path} has a malformed %-escape`);
  }
  return pathMatched ? apiError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}`) : apiError(404, 'NOT_FOUND', `no route ${path}`);
}

function decodeParams(raw: readonly (string | undefined)[]): string[] | null {
  try {
    return raw.map((p) => decodeURIComponent(p ?? ''));
  } catch {
    return null;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
