/**
 * EndpointSlice change in the (fake) Kubernetes API → HAProxy serving the new
 * pod: p50/p99 over 100 changes, through the whole daemon (informer, trigger,
 * reconcile, apply) with real etcd and HAProxy.
 */
import { Agent } from 'node:http';
import { httpGet } from '../../../src/demo/http-get.ts';
import { sleep } from '../../../src/sources/backoff.ts';
import { blueGreenSpec, podAnswer, startEnv } from '../../helpers/env.ts';
import type { Teardown } from '../../helpers/tmp.ts';
import type { Scenario } from '../run.ts';
import { summary } from '../stats.ts';

const CHANGES = 100;
const PODS = 4;
const HOST = 'shop.example.com';
const DEBOUNCE_MS = 20;

export const scenario: Scenario = {
  name: 'kubernetes',
  description: `time from an EndpointSlice change in the fake API server to HAProxy answering from the newly listed pod, over ${CHANGES} changes (the slice holds one pod, replaced by another of ${PODS} each time; debounce ${DEBOUNCE_MS} ms)`,
  async run() {
    const teardowns: Array<() => void | Promise<void>> = [];
    const world: Teardown = { teardown: (fn) => void teardowns.push(fn) };
    try {
      const env = await startEnv(world, {
        kubernetes: {},
        services: { 'shop/web-blue': ['blue', PODS], 'shop/web-green': ['green', 1] },
        config: { sync: { debounceMs: DEBOUNCE_MS, maxDelayMs: 200 } },
      });
      const daemon = await env.startDaemon();
      await env.putSpec(HOST, blueGreenSpec());
      const pool = env.pods.filter((p) => p.colour === 'blue');
      const first = pool[0];
      if (!first) throw new Error('empty pod pool');
      // Only one pod at a time, so an answer from the next one proves the new config is live.
      env.publish('shop/web-blue', [first]);
      await env.untilServedBy(HOST, [first], 30000);
      // A new connection per request: a keep-alive one could still be held by a worker of the previous config.
      const agent = new Agent({ keepAlive: false });
      teardowns.push(() => agent.destroy());
      const samples: number[] = [];
      for (let i = 0; i < CHANGES; i++) {
        const pod = pool[(i + 1) % pool.length];
        if (!pod) throw new Error('empty pod pool');
        const started = performance.now();
        env.publish('shop/web-blue', [pod]);
        await untilAnswer(env.httpPort, podAnswer(pod), agent);
        samples.push(performance.now() - started);
      }
      return {
        changes: CHANGES,
        latencyMs: summary(samples),
        lastApplyMode: daemon.reconciler.lastReport()?.mode ?? null,
        sourceRestarts: env.logs.filter((l) => l['source'] === 'kubernetes' && (l['code'] === 'SOURCE_STALLED' || l['level'] === 'error')).length,
      };
    } finally {
      for (const fn of teardowns.reverse()) await fn();
    }
  },
};

async function untilAnswer(port: number, answer: string, agent: Agent): Promise<void> {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const res = await httpGet(`http://127.0.0.1:${port}/`, { host: HOST, agent }).catch(() => null);
    if (res?.status === 200 && res.body.trim() === answer) return;
    await sleep(2);
  }
  throw new Error(`HAProxy did not answer from ${answer} within 30 s`);
}
