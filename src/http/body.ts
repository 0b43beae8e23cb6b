/** Reads a request body with a size limit; JSON requests only, which also keeps browsers from posting cross-site without a preflight. */
import type { IncomingMessage } from 'node:http';

export const MAX_BODY_BYTES = 4096;

export type BodyRead =
  | { readonly text: string }
  /** `unread`: the rest of the body was left in the socket, so the connection must close after the answer. */
  | { readonly problem: string; readonly unread: boolean };

export function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<BodyRead> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') return Promise.resolve({ problem: `content-type must be application/json (got ${type ? `"${type}"` : 'none'})`, unread: false });
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.resolve({ problem: `body is ${declared} bytes; at most ${limit} are accepted`, unread: true });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: BodyRead): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.pause();
      done({ problem: `body is larger than ${limit} bytes`, unread: true });
    };
    const onEnd = (): void => done({ text: Buffer.concat(chunks).toString('utf8') });
    req.on('data', onData);
    req.on('end', onEnd);
    req.once('error', (err) => done({ problem: `reading the body failed: ${err.message}`, unread: true }));
  });
}
