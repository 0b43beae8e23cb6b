import t from 'tap';
import { historyKey, type LedgerEntry } from '../../src/core/ledger.ts';
import { PREFIX, startEnv } from '../helpers/env.ts';
import { HOST, SPEC, activeRevision, entryAt, history } from '../helpers/ledger.ts';

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
