import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import { nodeKey } from '../../src/fleet/nodes.ts';
import { PREFIX, startFleet, type LbNode } from '../helpers/env.ts';
import { HOST, NODES, SPEC, fleetAt, servesEverywhere, type ErrorBody, type FlipBody } from '../helpers/fleet.ts';

t.test('a killed daemon: flips name it until its node key expires, then confirm with the other two; a clean stop deletes the key', async (t) => {
  const { env, nodes } = await startFleet(t, NODES);
  const [lb1, lb2, lb3] = nodes as [LbNode, LbNode, LbNode];
  const lb2Daemon = await lb2.startDaemon();
  await lb1.startDaemon();
  const child = lb3.spawnDaemon();
  await env.putSpec(HOST, SPEC);
  await servesEverywhere(nodes, 'blue');
  await fleetAt(env, NODES);

  child.child.kill('SIGKILL');
  await new Promise((r) => child.child.once('exit', r));
  const unconfirmed = await lb1.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', timeoutMs: 1500 });
  t.equal(unconfirmed.status, 504, 'written, but the dead node cannot confirm');
  const err = (unconfirmed.body as ErrorBody).error;
  t.equal(err.code, 'FLIP_UNCONFIRMED');
  t.match(err.message, /not confirmed within 1500 ms by lb-3/);
  t.same(err.nodes?.map((n) => [n.node, n.applied]), [['lb-1', true], ['lb-2', true], ['lb-3', false]], 'the answer says who confirmed');
  await lb1.until(HOST, { body: 'green' });

  await waitUntil('lb-3 key expired with its lease', async () => (await env.client.get(nodeKey(PREFIX, 'lb-3')).string()) === null, 25000);
  const confirmed = await lb2.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'blue' });
  t.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  t.same((confirmed.body as FlipBody).nodes.map((n) => n.node), ['lb-1', 'lb-2'], 'only the live nodes are waited for');

  await lb2Daemon.stop();
  t.equal(await env.client.get(nodeKey(PREFIX, 'lb-2')).string(), null, 'a cleanly stopped daemon deletes its key at once');
  const single = await lb1.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green' });
  t.same((single.body as FlipBody).nodes.map((n) => n.node), ['lb-1']);

  const restarted = lb3.spawnDaemon();
  await fleetAt(env, ['lb-3'], (single.body as FlipBody).revision);
  restarted.child.kill('SIGTERM');
  t.equal(await new Promise((r) => restarted.child.once('exit', r)), 0, 'SIGTERM stops the daemon cleanly');
  t.equal(await env.client.get(nodeKey(PREFIX, 'lb-3')).string(), null, 'and its key is gone when it has exited');
});
