import { spawn } from 'node:child_process';
import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import { nodeKey, readNodes, type NodeStatus } from '../../src/fleet/nodes.ts';
import { cli } from '../helpers/cli.ts';
import { PREFIX, blueGreenSpec, startFleet, type LbNode, type TestEnv } from '../helpers/env.ts';

const HOST = 'shop.example.com';
const NODES = ['lb-1', 'lb-2', 'lb-3'];
const SPEC = blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } });

interface FlipBody {
  host: string;
  from: string;
  to: string;
  revision: number;
  nodes: Array<{ node: string; applied: boolean; revision: number }>;
}
interface ErrorBody {
  error: { code: string; message: string; nodes?: FlipBody['nodes'] };
}

/** Every named node has a status key and has applied at least `revision`. */
async function fleetAt(env: TestEnv, names: readonly string[], revision = 1): Promise<NodeStatus[]> {
  let nodes: NodeStatus[] = [];
  await waitUntil(`nodes ${names.join(', ')} at revision ${revision}`, async () => {
    nodes = await readNodes(env.client, PREFIX);
    return names.every((n) => nodes.some((s) => s.node === n && s.revision >= revision));
  }, 20000);
  return nodes;
}

async function servesEverywhere(nodes: readonly LbNode[], colour: string): Promise<void> {
  await Promise.all(nodes.map((n) => n.until(HOST, { body: colour })));
}

function etcdctl(endpoint: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

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

t.test('flip and status commands talk to the API', async (t) => {
  const { env, nodes } = await startFleet(t, NODES);
  await Promise.all(nodes.map((n) => n.startDaemon()));
  await env.putSpec(HOST, SPEC);
  await env.putSpec('bad.example.com', '{"backends": ');
  await servesEverywhere(nodes, 'blue');
  await fleetAt(env, NODES);
  const config = ['--config', nodes[0]!.configFile];

  const flipped = await cli(['flip', HOST, 'green', ...config]);
  t.equal(flipped.code, 0, flipped.stderr);
  t.match(flipped.stdout, new RegExp(`^${HOST}: blue → green \\(etcd revision \\d+\\)\\n`));
  for (const n of NODES) t.match(flipped.stdout, new RegExp(`^  ${n}  applied \\(at revision \\d+\\)$`, 'm'), `names ${n}`);
  for (const node of nodes) t.match((await node.get(HOST)).body, /^green/, `${node.name} serves green when the command returns`);

  const status = await cli(['status', ...config]);
  t.equal(status.code, 0, status.stderr);
  const [header, row] = status.stdout.split('\n');
  t.match(header, /^VHOST +LIVE +UP\/READY PER COLOUR +lb-1 +lb-2 +lb-3$/);
  t.match(status.stdout, new RegExp(`^bad\\.example\\.com +- +- +- +- +-$`, 'm'), 'a broken vhost is listed');
  t.match(row, /^bad\.example\.com/);
  const unchecked = '(?: \\(\\d unchecked\\))?';
  t.match(status.stdout, new RegExp(`^${HOST.replace(/\./g, '\\.')} +green +blue \\d/2${unchecked}  green \\d/2${unchecked} +green +green +green$`, 'm'));
  t.match(status.stdout, /^NODE +REVISION +CONFIG +APPLIED AT$/m);
  t.match(status.stdout, /^lb-1 \(this node\) +\d+ +[0-9a-f]{16} +\d{4}-\d\d-\d\dT/m);
  t.match(status.stdout, /SPEC_INVALID etcd key \/haproxy-sync\/vhosts\/bad\.example\.com\/spec: not valid JSON/);

  const noWait = await cli(['flip', HOST, 'blue', '--no-wait', '--expect', 'green', ...config]);
  t.equal(noWait.code, 0, noWait.stderr);
  t.match(noWait.stdout, /not waiting for the nodes/);
  await servesEverywhere(nodes, 'blue');

  const refused = await cli(['flip', HOST, 'purple', ...config]);
  t.equal(refused.code, 1, 'an unknown colour is refused');
  t.match(refused.stderr, /flip refused: "purple" is not a colour of shop\.example\.com \(colours: blue, green\) \[NOT_FOUND\]/);
  const conflict = await cli(['flip', HOST, 'green', '--expect', 'green', ...config]);
  t.equal(conflict.code, 1);
  t.match(conflict.stderr, /\[FLIP_CONFLICT\]/);

  t.equal((await cli(['flip', HOST, ...config])).code, 2, 'a missing argument exits 2');
  t.equal((await cli(['flip', HOST, 'Green!', ...config])).code, 2, 'a malformed colour exits 2');
  t.equal((await cli(['flip', HOST, 'green', '--timeout-ms', 'soon', ...config])).code, 2, 'a bad flag value exits 2');
  const unreachable = await cli(['status', '--api', 'http://127.0.0.1:1', ...config]);
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, /cannot reach the haproxy-sync API at http:\/\/127\.0\.0\.1:1/);
  for (const cmd of ['flip', 'status']) {
    const help = await cli([cmd, '--help']);
    t.equal(help.code, 0);
    t.match(help.stdout, new RegExp(`^Usage: haproxy-sync ${cmd}`));
  }
});
