/**
 * Fleet flip latency: three daemons and three HAProxies on one etcd. Each
 * flip is timed from the API call to (a) every HAProxy serving the new
 * colour, polled with fresh connections every 5 ms, and (b) the API answer
 * (wait=true, so it answers once every node reports the revision).
 */
import { waitUntil } from '../../../src/demo/processes.ts';
import { readNodes } from '../../../src/fleet/nodes.ts';
import type { VHostView } from '../../../src/http/vhosts.ts';
import { sleep } from '../../../src/sources/backoff.ts';
import { PREFIX, blueGreenSpec, startFleet, type LbNode } from '../../helpers/env.ts';
import type { Scenario } from '../run.ts';
import { summary } from '../stats.ts';

const FLIPS = 20;
const HOST = 'shop.example.com';

export const scenario: Scenario = {
  name: 'fleet',
  description: `${FLIPS} flips through the API of one of three nodes: ms from the call until all three HAProxies serve the new colour, and until the API answers with every node confirmed`,
  async run() {
    const teardowns: Array<() => void | Promise<void>> = [];
    try {
      const { env, nodes } = await startFleet({ teardown: (fn) => void teardowns.push(fn) }, ['lb-1', 'lb-2', 'lb-3']);
      await Promise.all(nodes.map((n) => n.startDaemon()));
      await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } }));
      await Promise.all(nodes.map((n) => n.until(HOST, { body: 'blue' }, 30000)));
      await waitUntil('every node reporting', async () => (await readNodes(env.client, PREFIX)).filter((n) => n.revision > 0).length === 3, 30000);
      const serveAll: number[] = [];
      const answer: number[] = [];
      for (let i = 0; i < FLIPS; i++) {
        const to = i % 2 === 0 ? 'green' : 'blue';
        const via = nodes[i % nodes.length] as LbNode;
        // Not timed: a reload restarts health checks, and the gate rightly waits for them.
        await checked(via, to);
        const t0 = performance.now();
        let answeredAt = 0;
        const call = via.api('POST', `/v1/vhosts/${HOST}/flip`, { to }).then((res) => {
          answeredAt = performance.now();
          return res;
        });
        await Promise.all(nodes.map((n) => serving(n, to)));
        serveAll.push(performance.now() - t0);
        const res = await call;
        if (res.status !== 200) throw new Error(`flip ${i} answered ${res.status}: ${JSON.stringify(res.body)}`);
        answer.push(answeredAt - t0);
      }
      return { nodes: nodes.length, flipToAllServingMs: summary(serveAll), flipToAnswerMs: summary(answer) };
    } finally {
      for (const fn of teardowns.reverse()) await fn();
    }
  },
};

async function serving(node: LbNode, colour: string): Promise<void> {
  while (!(await node.get(HOST)).body.startsWith(colour)) await sleep(5);
}

async function checked(node: LbNode, colour: string): Promise<void> {
  await waitUntil(`${node.name}: ${colour} checked`, async () => {
    const view = (await node.api('GET', `/v1/vhosts/${HOST}`)).body as VHostView;
    const backend = view.backends.find((b) => b.colour === colour);
    return backend !== undefined && backend.up === backend.ready && backend.ready > 0;
  }, 30000);
}
