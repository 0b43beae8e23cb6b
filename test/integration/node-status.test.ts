import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import t from 'tap';
import { startEtcd, waitUntil } from '../../src/demo/processes.ts';
import { NodeReporter, nodeKey, readNodes, type NodeStatus } from '../../src/fleet/nodes.ts';
import { createLogger } from '../../src/log.ts';
import { PREFIX } from '../helpers/env.ts';
import { tmpDir, type Teardown } from '../helpers/tmp.ts';

const KEY = nodeKey(PREFIX, 'lb-1');

async function world(t: Teardown): Promise<{ client: Etcd3 }> {
  const etcd = await startEtcd({ dataDir: join(tmpDir(t), 'etcd') });
  t.teardown(() => etcd.stop());
  const client = new Etcd3({ hosts: etcd.endpoint });
  t.teardown(() => client.close());
  return { client };
}

function reporter(client: Etcd3, status: () => NodeStatus, ttlSeconds = 10): NodeReporter {
  return new NodeReporter({ client, prefix: PREFIX, node: 'lb-1', log: createLogger('silent'), collect: async () => status(), ttlSeconds, refreshMs: 100 });
}

const statusAt = (revision: number): NodeStatus => ({ node: 'lb-1', revision, configHash: 'abc', appliedAt: null, vhosts: { 'shop.example.com': { active: 'blue', servers: { blue: { up: 2, total: 2 } } } } });

async function leaseOf(client: Etcd3): Promise<string | null> {
  return (await client.get(KEY).exec()).kvs[0]?.lease ?? null;
}

t.test('the status key follows updates, is bound to a lease, is written only when it changes, and goes on stop', async (t) => {
  const { client } = await world(t);
  let revision = 1;
  const r = reporter(client, () => statusAt(revision));
  r.start();
  await waitUntil('first status', async () => (await readNodes(client, PREFIX)).length === 1, 10000);
  t.same(await readNodes(client, PREFIX), [statusAt(1)]);
  t.not(await leaseOf(client), '0', 'bound to a lease');
  const version = Number((await client.get(KEY).exec()).kvs[0]?.version);
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.equal(Number((await client.get(KEY).exec()).kvs[0]?.version), version, 'periodic refreshes of an unchanged status write nothing');

  revision = 7;
  r.update();
  await waitUntil('updated status', async () => (await readNodes(client, PREFIX))[0]?.revision === 7, 10000);
  await r.stop();
  t.equal(await client.get(KEY).string(), null, 'deleted on stop');
});

t.test('a lost lease is replaced and the status written again', async (t) => {
  const { client } = await world(t);
  const r = reporter(client, () => statusAt(5), 2);
  r.start();
  t.teardown(() => r.stop());
  await waitUntil('status written', async () => (await client.get(KEY).string()) !== null, 10000);
  const first = await leaseOf(client);
  await client.leaseClient.leaseRevoke({ ID: first ?? '0' });
  t.equal(await client.get(KEY).string(), null, 'revoking the lease removed the key');
  await waitUntil('status back under a new lease', async () => {
    const lease = await leaseOf(client);
    return lease !== null && lease !== first;
  }, 15000);
  t.same(await readNodes(client, PREFIX), [statusAt(5)]);
});

t.test('etcd down longer than the TTL and back: the reporter keeps retrying and publishes again', async (t) => {
  const etcd = await startEtcd({ dataDir: join(tmpDir(t), 'etcd') });
  const client = new Etcd3({ hosts: etcd.endpoint });
  t.teardown(() => client.close());
  let revision = 1;
  const r = reporter(client, () => statusAt(revision), 1);
  r.start();
  t.teardown(() => r.stop());
  await waitUntil('status written', async () => (await client.get(KEY).string()) !== null, 10000);

  await etcd.stop();
  revision = 2;
  r.update();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const again = await startEtcd({ dataDir: etcd.dataDir, clientPort: etcd.clientPort, peerPort: etcd.peerPort });
  t.teardown(() => again.stop());
  await waitUntil('status at revision 2', async () => (await readNodes(client, PREFIX))[0]?.revision === 2, 30000);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.same(await readNodes(client, PREFIX), [statusAt(2)], 'still there after more than twice the TTL: its lease is kept alive again');
});
