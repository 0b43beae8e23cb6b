import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { Etcd3 } from 'etcd3';
import t from 'tap';
import { waitFor } from '../helpers/wait.ts';
import { startEtcd } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv, PREFIX } from '../helpers/env.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

const HOST = 'shop.example.com';

t.test('etcd stopped and restarted: serving continues, changes after the restart are applied', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });

  await env.etcd.stop();
  for (let i = 0; i < 5; i++) t.match((await env.get(HOST)).body, /^blue/, 'still served while etcd is down');
  await new Promise((r) => setTimeout(r, 1500));
  t.match((await env.get(HOST)).body, /^blue/, 'still served after the watch noticed');

  const again = await startEtcd({ dataDir: env.etcd.dataDir, clientPort: env.etcd.clientPort, peerPort: env.etcd.peerPort });
  t.teardown(() => again.stop());
  await env.putActive(HOST, 'green');
  await env.until(HOST, { body: 'green' }, 30000);
  t.pass('a change made after the restart is served');
});

t.test('a stalled etcd link (open but silent) is noticed, and changes made meanwhile are applied', async (t) => {
  const env = await startEnv(t);
  const proxy = await startTcpProxy(env.etcd.clientPort);
  t.teardown(() => proxy.close());
  useEtcdThrough(env.configFile, proxy.port);
  await env.putSpec(HOST, blueGreenSpec());
  await env.startDaemon();
  await env.until(HOST, { body: 'blue' });

  proxy.stall();
  await env.putActive(HOST, 'green');
  await waitFor(() => env.logs.some((l) => String(l['msg']).includes('etcd watch ended')), 40000, 'the stalled watch noticed');
  t.match((await env.get(HOST)).body, /^blue/, 'the last known state keeps serving during the stall');
  proxy.restore();
  await env.until(HOST, { body: 'green' }, 30000);
  t.pass('the change made during the stall is applied once the link works');
});

t.test('a compaction past the watched revision: the source re-reads and recovers', async (t) => {
  const env = await startEnv(t, { config: {} });
  const proxy = await startTcpProxy(env.etcd.clientPort);
  t.teardown(() => proxy.close());
  useEtcdThrough(env.configFile, proxy.port);

  await env.putSpec(HOST, blueGreenSpec());
  await env.putSpec('gone.example.com', blueGreenSpec());
  await env.startDaemon();
  await env.until(HOST, { body: 'blue' });
  await env.until('gone.example.com', { body: 'blue' });

  proxy.cut();
  // Behind the daemon's back: changes, a deleted vhost, then a compaction up to now.
  await env.putActive(HOST, 'green');
  await env.putSpec('new.example.com', blueGreenSpec());
  await env.del('vhosts/gone.example.com/spec');
  const direct = new Etcd3({ hosts: env.etcd.endpoint });
  t.teardown(() => direct.close());
  const rev = (await direct.get(`${PREFIX}vhosts/${HOST}/active`).exec()).header.revision;
  await direct.kv.compact({ revision: rev, physical: true });
  proxy.restore();

  await env.until(HOST, { body: 'green' }, 30000);
  await env.until('new.example.com', { body: 'blue' }, 10000);
  await env.until('gone.example.com', { status: 404 }, 10000);
  t.ok(env.logs.some((l) => String(l['msg']).includes('etcd watch ended')), 'the broken watch was noticed and replaced');
});

/** Points the daemon config at the proxy instead of etcd itself. */
function useEtcdThrough(configFile: string, port: number): void {
  const doc = parse(readFileSync(configFile, 'utf8')) as { etcd: { endpoints: string[] } };
  doc.etcd.endpoints = [`http://127.0.0.1:${port}`];
  writeFileSync(configFile, stringify(doc));
}
