import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import { readNodes } from '../../src/fleet/nodes.ts';
import type { HistoryAnswer } from '../../src/http/history.ts';
import { PREFIX, blueGreenSpec, startFleet } from '../helpers/env.ts';

const HOST = 'shop.example.com';
const NODES = ['lb-1', 'lb-2', 'lb-3'];

t.test('three daemons on one etcd: a flip is recorded once, with a confirmation from each', async (t) => {
  const { env, nodes } = await startFleet(t, NODES);
  await Promise.all(nodes.map((n) => n.startDaemon()));
  await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } }));
  await Promise.all(nodes.map((n) => n.until(HOST, { body: 'blue' })));
  await waitUntil('every node has a status key', async () => (await readNodes(env.client, PREFIX)).length === 3, 20000);

  const flip = await nodes[1]!.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', reason: 'canary passed' });
  t.equal(flip.status, 200, JSON.stringify(flip.body));
  const revision = (flip.body as { revision: number }).revision;
  let answer: HistoryAnswer | null = null;
  await waitUntil('three confirmations', async () => {
    answer = (await nodes[2]!.api('GET', `/v1/vhosts/${HOST}/history`)).body as HistoryAnswer;
    return answer.entries[0]?.nodes.filter((n) => n.state === 'served').length === 3;
  }, 10000).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${JSON.stringify(answer)}`);
  });
  const entries = answer!.entries;
  t.equal(entries.length, 1, 'one entry, though three daemons saw the flip');
  t.match(entries[0], { revision, from: 'blue', to: 'green', source: 'api', reason: 'canary passed', actor: /via lb-2$/ });
  t.same(entries[0]!.nodes.map((n) => n.node), NODES, 'every load balancer confirmed');
  const stored = await env.client.getAll().prefix(`${PREFIX}history/${HOST}/`).exec();
  t.equal(stored.kvs.length, 1, 'one key in etcd');
  t.equal(Number(stored.kvs[0]?.create_revision) > revision, true, 'written after the flip, not as part of it');
});
