/** A GET with a chosen Host header (fetch does not allow setting it), for the demo and the tests. */
import { request, type Agent } from 'node:http';

export interface GetResult {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export function httpGet(url: string, opts: { host?: string; agent?: Agent; timeoutMs?: number } = {}): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: opts.agent, headers: opts.host ? { host: opts.host } : {}, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
