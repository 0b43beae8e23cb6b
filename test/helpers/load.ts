/**
 * Closed-loop HTTP clients through HAProxy on loopback, counting every
 * request that fails (an error, a timeout, or a status other than 200), for
 * zero-downtime tests and benchmarks. Some clients keep their connection
 * alive, others open a new one per request: a reload can hurt either kind.
 */
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpGet } from '../../src/demo/http-get.ts';

export interface LoadOptions {
  readonly port: number;
  readonly host: string;
  readonly keepAlive: number;
  readonly fresh: number;
  /** Every client stops by itself after this long, so a failed test cannot leave it running. */
  readonly maxMs: number;
}

export interface LoadResult {
  ok: number;
  failed: number;
  /** Failures by kind ("status 503", "ECONNRESET", ...). */
  readonly failures: Record<string, number>;
}

export interface Load {
  /** The counts so far. */
  now(): Readonly<LoadResult>;
  stop(): Promise<LoadResult>;
}

// After a failure, a short pause keeps a client from spinning while nothing listens.
const PAUSE_AFTER_FAILURE_MS = 5;

export function startLoad(opts: LoadOptions): Load {
  const result: LoadResult = { ok: 0, failed: 0, failures: {} };
  const url = `http://127.0.0.1:${opts.port}/`;
  const deadline = Date.now() + opts.maxMs;
  let stopped = false;
  const fail = (kind: string): void => {
    result.failed++;
    result.failures[kind] = (result.failures[kind] ?? 0) + 1;
  };
  const client = async (agent: Agent): Promise<void> => {
    while (!stopped && Date.now() < deadline) {
      try {
        const res = await httpGet(url, { host: opts.host, agent, timeoutMs: 5000 });
        if (res.status === 200) {
          result.ok++;
          continue;
        }
        fail(`status ${res.status}`);
      } catch (err) {
        fail((err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err)));
      }
      await sleep(PAUSE_AFTER_FAILURE_MS);
    }
  };
  const agents = [
    ...Array.from({ length: opts.keepAlive }, () => new Agent({ keepAlive: true, maxSockets: 1 })),
    ...Array.from({ length: opts.fresh }, () => new Agent({ keepAlive: false })),
  ];
  const loops = agents.map(client);
  return {
    now: () => ({ ...result, failures: { ...result.failures } }),
    async stop() {
      stopped = true;
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
      return result;
    },
  };
}
