import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import { readNodes } from '../../src/fleet/nodes.ts';
import { PREFIX, startFleet } from '../helpers/env.ts';
import { HOST, NODES, SPEC, etcdctl, fleetAt, servesEverywhere, type ErrorBody, type FlipBody } from '../helpers/fleet.ts';

t.test('three nodes: an API flip is served by all three before it answers; etcdctl put converges them too', async (t) => {
  const { env, nodes } = await startFleet(t, NODES);
  const daemons = await Promise.all(nodes.map((n) => n.startDaemon()));
  await env.putSpec(HOST, SPEC);
  await servesEverywhere(nodes, 'blue');
  await fleetAt(env, NODES);

  const res = await nodes[1]!.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', expect: 'blue' });
  t.equal(res.status, 200, JSON.stringify(res.body));
  const body = res.body as FlipBody;
  t.match(body, { host: HOST, from: 'blue', to: 'green' });
  t.same(body.nodes.map((n) => n.node), NODES, 'the answer names every node');
  t.ok(body.nodes.every((n) => n.applied && n.revision >= body.revision), 'each confirmed the revision of the write');
  for (const node of nodes) {
    for (let i = 0; i < 3; i++) t.match((await node.get(HOST)).body, /^green/, `${node.name} serves green when the flip answers`);
  }

  const keys = await env.client.getAll().prefix(`${PREFIX}nodes/`).exec();
  t.equal(keys.kvs.length, 3, 'one status key per node');
  t.ok(keys.kvs.every((kv) => kv.lease !== '0'), 'every status key is bound to a lease');
  const status = await fleetAt(env, NODES, body.revision);
  for (const [i, s] of status.entries()) {
    t.equal(s.configHash, daemons[i]!.reconciler.lastReport()?.configHash, `${s.node} reports the hash of the config it runs`);
    t.match(s.vhosts[HOST], { active: 'green', servers: { blue: { total: 2 }, green: { total: 2 } } }, `${s.node} reports the live colour and servers`);
  }
  await waitUntil('HAProxy health checks in the node status', async () => {
    const again = await readNodes(env.client, PREFIX);
    return again.every((s) => s.vhosts[HOST]?.servers['green']?.up === 2 && s.vhosts[HOST]?.servers['blue']?.up === 2);
  }, 15000);

  t.equal(await etcdctl(env.etcd.endpoint, ['put', `${PREFIX}vhosts/${HOST}/active`, 'blue']), 0, 'etcdctl put');
  await servesEverywhere(nodes, 'blue');
  const after = await env.client.get(`${PREFIX}vhosts/${HOST}/active`).exec();
  await fleetAt(env, NODES, Number(after.kvs[0]?.mod_revision));
  t.pass('a plain etcdctl put reaches every node, and every node reports it');
});

t.test('concurrent flips through different nodes: exactly one wins, the others get 409 and write nothing', async (t) => {
  const { env, nodes } = await startFleet(t, NODES);
  await Promise.all(nodes.map((n) => n.startDaemon()));
  await env.putSpec(HOST, SPEC);
  await env.putActive(HOST, 'blue');
  await servesEverywhere(nodes, 'blue');
  const before = await env.client.get(`${PREFIX}vhosts/${HOST}/active`).exec();
  await fleetAt(env, NODES, Number(before.kvs[0]?.mod_revision));

  const attempts = [...nodes, ...nodes].map((n) => n.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', expect: 'blue' }));
  const answers = await Promise.all(attempts);
  const won = answers.filter((a) => a.status === 200);
  const lost = answers.filter((a) => a.status === 409);
  t.equal(won.length, 1, 'exactly one flip wins');
  t.equal(lost.length, answers.length - 1, 'every other one is refused with 409');
  t.same(lost.map((a) => (a.body as ErrorBody).error.code), lost.map(() => 'FLIP_CONFLICT'), 'as a conflict');
  const after = await env.client.get(`${PREFIX}vhosts/${HOST}/active`).exec();
  t.equal(Number(after.kvs[0]?.version) - Number(before.kvs[0]?.version), 1, 'the active key was written exactly once');
  await servesEverywhere(nodes, 'green');
});
