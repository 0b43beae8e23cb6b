/** The flip ledger of one vhost, read through the API, for the ledger tests. */
import { waitUntil } from '../../src/demo/processes.ts';
import type { HistoryAnswer } from '../../src/http/history.ts';
import { PREFIX, blueGreenSpec, type TestEnv } from './env.ts';

export const HOST = 'shop.example.com';
export const SPEC = blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } });

export async function history(env: TestEnv, query = ''): Promise<HistoryAnswer> {
  const res = await env.api('GET', `/v1/vhosts/${HOST}/history${query}`);
  if (res.status !== 200) throw new Error(`history answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as HistoryAnswer;
}

/** Waits until the ledger's newest entry is at `revision` and served by every expected node. */
export async function entryAt(env: TestEnv, revision: number): Promise<HistoryAnswer['entries'][number]> {
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

export async function activeRevision(env: TestEnv): Promise<number> {
  return Number((await env.client.get(`${PREFIX}vhosts/${HOST}/active`).exec()).kvs[0]?.mod_revision);
}
