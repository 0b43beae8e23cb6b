/** Timing "change made → first response that shows it" through HAProxy, on one kept-alive connection. */
import { Agent } from 'node:http';
import { httpGet } from '../../src/demo/http-get.ts';

/** Polls on one kept-alive connection until an answer passes `ok`; returns when it arrived. */
export async function firstAnswer(target: { readonly httpPort: number }, agent: Agent, host: string, ok: (body: string) => boolean, timeoutMs = 30000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const res = await httpGet(`http://127.0.0.1:${target.httpPort}/`, { host, agent });
    if (res.status === 200 && ok(res.body)) return performance.now();
  }
  throw new Error(`${host}: no expected answer within ${timeoutMs} ms`);
}

export function keepAlive(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}
