import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import type { HistoryAnswer } from '../../src/http/history.ts';
import { PREFIX, blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';

const HOST = 'shop.example.com';
const SPEC = blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } });

async function history(env: TestEnv, query = ''): Promise<HistoryAnswer> {
  const res = await env.api('GET', `/v1/vhosts/${HOST}/history${query}`);
  if (res.status !== 200) throw new Error(`history answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as HistoryAnswer;
}

/** Waits until the ledger's newest entry is at `revision` and served by every expected node. */
async function entryAt(env: TestEnv, revision: number): Promise<HistoryAnswer['entries'][number]> {
  let last: HistoryAnswer | null = null;
  await waitUntil(`ledger entry at revision ${revision}, confirmed`, async () => {
    last = await history(env);
    const e = last.entries[0];
    return e?.revision === revision && e.nodes.every((n) => n.state === 'served');
  }, 10000).catch((err: unknown) => {
    throw new Error(`${String(err)}; ledger: ${JSON.stringify(last)}`);
  });
  return last!.entries[0]!;
}

async function activeRevision(env: TestEnv): Promise<number> {
  return Number((await env.client.get(`${PREFIX}vhosts/${HOST}/active`).exec()).kvs[0]?.mod_revision);
}

t.test('every change of the live colour is recorded once, by the API or by a plain etcd write; other writes are not', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, SPEC);
  await env.until(HOST, { body: 'blue' });
  t.same((await history(env)).entries, [], 'no flips yet');

  const flip = await env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', reason: 'release 4.2' });
  t.equal(flip.status, 200, JSON.stringify(flip.body));
  const apiFlip = await entryAt(env, (flip.body as { revision: number }).revision);
  t.match(apiFlip, { host: HOST, from: 'blue', to: 'green', source: 'api', reason: 'release 4.2', forced: false, timeoutMs: 5000, actor: /^127\.0\.0\.1 via test-lb$/ });
  t.same(apiFlip.nodes.map((n) => [n.node, n.state]), [['test-lb', 'served']]);
  t.ok(Date.parse(apiFlip.nodes[0]!.servedAt!) >= Date.parse(apiFlip.at) - 1000, 'served at a time after the flip');

  await env.putActive(HOST, 'blue');
  await env.until(HOST, { body: 'blue' });
  const etcdFlip = await entryAt(env, await activeRevision(env));
  t.match(etcdFlip, { from: 'green', to: 'blue', source: 'etcd', reason: null, forced: false, actor: null });

  const forced = await env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', force: true, timeoutMs: 3000 });
  t.equal(forced.status, 200);
  t.match(await entryAt(env, (forced.body as { revision: number }).revision), { source: 'api', forced: true, reason: null, timeoutMs: 3000 });

  // Not flips: the same colour again, a spec change that keeps the colour, another vhost's key.
  await env.putActive(HOST, 'green');
  await env.putSpec(HOST, { ...SPEC, balance: 'leastconn' });
  await env.put('vhosts/other.example.com/active', 'blue');
  const after = Number((await env.client.get(`${PREFIX}vhosts/other.example.com/active`).exec()).kvs[0]?.mod_revision);
  await waitUntil('daemon applied the last writes', async () => {
    const view = await env.api('GET', '/v1/vhosts');
    return (view.body as { revision: number }).revision >= after;
  }, 10000);
  const all = await history(env);
  t.same(all.entries.map((e) => `${e.from}→${e.to} ${e.source}`), ['blue→green api', 'green→blue etcd', 'blue→green api'], 'newest first, one entry per flip');
  t.same((await history(env, '?limit=1')).entries.length, 1, 'limit');
  t.equal((await env.api('GET', `/v1/vhosts/${HOST}/history?limit=0`)).status, 400);
  t.equal((await env.api('GET', '/v1/vhosts/not_a_host!/history')).status, 404);

  // Deleting the active key is a flip back to the spec's default.
  await env.del(`vhosts/${HOST}/active`);
  await env.until(HOST, { body: 'blue' });
  const revisions = (await history(env)).entries.map((e) => e.revision);
  t.equal(revisions.length, 4, 'the delete made an entry');
  t.match((await history(env)).entries[0], { from: 'green', to: 'blue', source: 'etcd' });
});
