import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import { historyKey, type LedgerEntry } from '../../src/core/ledger.ts';
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

t.test('the ledger keeps the newest 100 entries per vhost and survives a daemon restart', async (t) => {
  const env = await startEnv(t);
  const first = await env.startDaemon();
  await env.putSpec(HOST, SPEC);
  await env.until(HOST, { body: 'blue' });
  // 100 older entries, as a long-running fleet would have.
  for (let rev = 1; rev <= 100; rev++) {
    const entry: LedgerEntry = {
      host: HOST, from: 'blue', to: 'green', revision: rev, at: new Date(Date.UTC(2025, 0, 1, 0, 0, rev)).toISOString(),
      source: 'etcd', reason: null, forced: false, actor: null, timeoutMs: 5000, expected: ['old-lb'], confirmations: [],
    };
    await env.client.put(historyKey(PREFIX, HOST, rev)).value(JSON.stringify(entry));
  }
  await env.putActive(HOST, 'green');
  const revision = await activeRevision(env);
  const entry = await entryAt(env, revision);
  t.same(entry.nodes.map((n) => [n.node, n.state]), [['test-lb', 'served']]);
  const all = await history(env);
  t.equal(all.entries.length, 100, 'at most 100 entries');
  t.equal(all.entries.at(-1)?.revision, 2, 'the oldest one went');
  t.same(all.entries[1]?.nodes, [{ node: 'old-lb', servedAt: null, state: 'missed' }], 'a node that never served is shown as missed');

  await first.stop();
  await env.startDaemon();
  const again = await history(env);
  t.equal(again.entries[0]?.revision, revision, 'the ledger is in etcd, not in the daemon');
  await env.putActive(HOST, 'blue');
  const next = await entryAt(env, await activeRevision(env));
  t.equal(next.from, 'green', 'the restarted daemon records new flips');
  t.equal((await history(env)).entries.length, 100);
});
