import { Agent } from 'node:http';
import t from 'tap';
import { httpGet } from '../../src/demo/http-get.ts';
import { errorMessage } from '../../src/errors.ts';
import { readNodes } from '../../src/fleet/nodes.ts';
import { waitUntil } from '../../src/demo/processes.ts';
import { PREFIX, blueGreenSpec, startFleet, type LbNode } from '../helpers/env.ts';

const HOST = 'shop.example.com';
const FLIPS = 6;
const WORKERS_PER_NODE = 2;

interface Load {
  readonly requests: number;
  readonly failures: readonly string[];
  /** Colours each node answered with, in order of change. */
  readonly seen: ReadonlyMap<string, readonly string[]>;
}

/** Keep-alive clients hammering every node until `stop` resolves; records every failure. */
async function loadUntil(nodes: readonly LbNode[], stop: Promise<void>): Promise<Load> {
  let running = true;
  void stop.then(() => (running = false));
  let requests = 0;
  const failures: string[] = [];
  const seen = new Map<string, string[]>(nodes.map((n) => [n.name, []]));
  const worker = async (node: LbNode): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (running) {
        requests++;
        try {
          const res = await httpGet(`http://127.0.0.1:${node.httpPort}/`, { host: HOST, agent });
          const colour = res.body.split(' ')[0] ?? '';
          if (res.status !== 200 || !['blue', 'green'].includes(colour)) failures.push(`${node.name}: HTTP ${res.status} ${res.body.trim()}`);
          const colours = seen.get(node.name) ?? [];
          if (colours[colours.length - 1] !== colour) colours.push(colour);
        } catch (err) {
          failures.push(`${node.name}: ${errorMessage(err)}`);
        }
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(nodes.flatMap((n) => Array.from({ length: WORKERS_PER_NODE }, () => worker(n))));
  return { requests, failures, seen };
}

t.test('no failed requests through three load balancers during flips', async (t) => {
  const { env, nodes } = await startFleet(t, ['lb-1', 'lb-2', 'lb-3']);
  await Promise.all(nodes.map((n) => n.startDaemon()));
  await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } }));
  await Promise.all(nodes.map((n) => n.until(HOST, { body: 'blue' })));
  await waitUntil('every node reporting', async () => (await readNodes(env.client, PREFIX)).filter((n) => n.revision > 0).length === 3, 15000);

  let done: () => void = () => {};
  const stop = new Promise<void>((resolve) => (done = resolve));
  const load = loadUntil(nodes, stop);
  const answers: number[] = [];
  try {
    for (let i = 0; i < FLIPS; i++) {
      const to = i % 2 === 0 ? 'green' : 'blue';
      const res = await nodes[i % nodes.length]!.api('POST', `/v1/vhosts/${HOST}/flip`, { to });
      answers.push(res.status);
      // Some traffic on each colour before the next flip.
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  } finally {
    done();
  }
  const { requests, failures, seen } = await load;
  t.same(answers, Array(FLIPS).fill(200), 'every flip was confirmed by the fleet');
  t.same(failures, [], `no failed requests among ${requests}`);
  for (const [node, colours] of seen) {
    t.ok(colours.length >= FLIPS, `${node} answered with every colour in turn while under load (${colours.join(' → ')})`);
  }
});
