/**
 * The flip's etcd side against a real etcd, without HAProxy: the health gate
 * is replaced by a barrier, so both flips of a race provably read the same
 * state before either writes, and only the compare-and-swap can pick the winner.
 */
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import t from 'tap';
import type { BackendHealth } from '../../src/core/health.ts';
import { startEtcd, waitUntil } from '../../src/demo/processes.ts';
import { Flipper, type FlipOutcome, type TargetHealth } from '../../src/fleet/flip.ts';
import type { FlipRequest } from '../../src/fleet/flip-request.ts';
import { nodeKey } from '../../src/fleet/nodes.ts';
import { PREFIX, blueGreenSpec } from '../helpers/env.ts';
import { tmpDir, type Teardown } from '../helpers/tmp.ts';

const HOST = 'shop.example.com';
const ACTIVE = `${PREFIX}vhosts/${HOST}/active`;
const SPEC = `${PREFIX}vhosts/${HOST}/spec`;

const HEALTHY: BackendHealth = {
  colour: 'green', name: 'be_shop.example.com_green', service: 'shop/web-green', port: 'http', healthPath: '/healthz', minReady: 1, ready: 1, up: 1,
  servers: [{ name: 'srv1', address: '10.0.0.1:80', status: 'UP', check: 'L7OK', up: true, pending: false }],
};

function request(to: string, extra: Partial<FlipRequest> = {}): FlipRequest {
  return { to, expect: null, force: false, wait: false, timeoutMs: 1000, reason: null, ...extra };
}

async function etcdClient(t: Teardown): Promise<Etcd3> {
  const etcd = await startEtcd({ dataDir: join(tmpDir(t), 'etcd') });
  t.teardown(() => etcd.stop());
  const client = new Etcd3({ hosts: etcd.endpoint });
  t.teardown(() => client.close());
  await client.put(SPEC).value(JSON.stringify(blueGreenSpec()));
  return client;
}

/** A health check that holds every caller until `parties` have arrived, then runs `meanwhile` once. */
function barrier(parties: number, meanwhile: () => Promise<void> = async () => {}): () => Promise<TargetHealth> {
  let arrived = 0;
  let release: () => void = () => {};
  const open = new Promise<void>((resolve) => (release = resolve));
  return async () => {
    if (++arrived === parties) {
      await meanwhile();
      release();
    }
    await open;
    return { state: 'known', health: HEALTHY };
  };
}

function flipper(client: Etcd3, targetHealth: () => Promise<TargetHealth>, node = 'lb-1'): Flipper {
  return new Flipper({ client, prefix: PREFIX, node, selfRevision: () => Number.MAX_SAFE_INTEGER, targetHealth, pollMs: 20 });
}

async function version(client: Etcd3): Promise<number> {
  return Number((await client.get(ACTIVE).exec()).kvs[0]?.version ?? 0);
}

t.test('two flips that both passed their checks: the compare-and-swap lets exactly one write', async (t) => {
  const client = await etcdClient(t);
  for (const existing of [false, true]) {
    if (existing) await client.put(ACTIVE).value('blue');
    const before = await version(client);
    const gate = barrier(2);
    const outcomes = await Promise.all([flipper(client, gate).flip(HOST, request('green')), flipper(client, gate, 'lb-2').flip(HOST, request('green'))]);
    const kinds = outcomes.map((o) => o.kind).sort();
    t.same(kinds, ['conflict', 'ok'], `active key ${existing ? 'present' : 'absent'}: one wins, one conflicts`);
    t.match(outcomes.find((o) => o.kind === 'conflict'), { message: /changed while this flip was being checked.*nothing was written/ });
    t.equal((await version(client)) - before, 1, 'one write');
    await client.put(ACTIVE).value('blue');
  }
});

t.test('a spec changed between the check and the write: the flip is refused, since the check judged the old spec', async (t) => {
  const client = await etcdClient(t);
  await client.put(ACTIVE).value('blue');
  const gate = barrier(1, async () => void (await client.put(SPEC).value(JSON.stringify(blueGreenSpec('web', { balance: 'leastconn' })))));
  const outcome = await flipper(client, gate).flip(HOST, request('green'));
  t.equal(outcome.kind, 'conflict');
  t.equal((await client.get(ACTIVE).string()), 'blue', 'nothing was written');
});

t.test('wait: confirmed once every node key reports the revision; 504 names the nodes that did not', async (t) => {
  const client = await etcdClient(t);
  const status = (node: string, revision: number) => JSON.stringify({ node, revision, configHash: null, appliedAt: null, vhosts: {} });
  await client.put(nodeKey(PREFIX, 'lb-2')).value(status('lb-2', 1));
  await client.put(nodeKey(PREFIX, 'lb-3')).value('not json');
  const healthy = async (): Promise<TargetHealth> => ({ state: 'known', health: HEALTHY });

  const timedOut = await flipper(client, healthy).flip(HOST, request('green', { wait: true, timeoutMs: 300 }));
  t.equal(timedOut.kind, 'timeout');
  const done = timedOut as Extract<FlipOutcome, { kind: 'timeout' }>;
  t.match(done.message, new RegExp(`written at etcd revision ${done.revision}, but not confirmed within 300 ms by lb-2 \\(at revision 1\\), lb-3 \\(at revision 0\\)`));
  t.same(done.nodes.map((n) => [n.node, n.applied]), [['lb-2', false], ['lb-3', false], ['lb-1', true]], 'this node counts though it has no key');

  await client.delete().key(nodeKey(PREFIX, 'lb-3'));
  const confirming = flipper(client, healthy).flip(HOST, request('blue', { wait: true, timeoutMs: 10000 }));
  await waitUntil('the flip written', async () => (await client.get(ACTIVE).string()) === 'blue', 10000);
  const written = Number((await client.get(ACTIVE).exec()).kvs[0]?.mod_revision);
  await client.put(nodeKey(PREFIX, 'lb-2')).value(status('lb-2', written));
  const ok = await confirming;
  t.match(ok, { kind: 'ok', from: 'green', to: 'blue', revision: written, nodes: [{ node: 'lb-2', applied: true, revision: written }, { node: 'lb-1', applied: true }] });
});
