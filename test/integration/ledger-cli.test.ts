import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import type { HistoryAnswer } from '../../src/http/history.ts';
import { main } from '../../src/main.ts';
import { cli } from '../helpers/cli.ts';
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

t.test('history shows the ledger; flip --reason records why', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, SPEC);
  await env.until(HOST, { body: 'blue' });
  const flip = await env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', reason: 'release 4.2' });
  t.equal(flip.status, 200, JSON.stringify(flip.body));
  await entryAt(env, (flip.body as { revision: number }).revision);
  await env.putActive(HOST, 'blue');
  await entryAt(env, await activeRevision(env));
  const forced = await env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', force: true });
  await entryAt(env, (forced.body as { revision: number }).revision);
  await env.putActive(HOST, 'blue');
  await entryAt(env, await activeRevision(env));

  const shown = await cli(['history', HOST, '--config', env.configFile]);
  t.equal(shown.code, 0, shown.stderr);
  const lines = shown.stdout.trim().split('\n');
  t.match(lines[0], /^AT +FLIP +REVISION +HOW +LOAD BALANCERS +REASON$/);
  t.match(lines[4], /^\d{4}-\d\d-\d\dT\S+ +blue → green +\d+ +api 127\.0\.0\.1 via test-lb +test-lb \+\d+\.\d\ds +release 4\.2$/);
  t.match(lines[3], /^\S+ +green → blue +\d+ +etcd +test-lb \+\d+\.\d\ds +-$/);
  t.match(lines[2], /api \(forced\)/);
  const flipped = await cli(['flip', HOST, 'green', '--reason', 'back to green', '--config', env.configFile]);
  t.equal(flipped.code, 0, flipped.stderr);
  t.match((await history(env)).entries[0], { to: 'green', reason: 'back to green', source: 'api' });
});

t.test('bad history and flip --reason arguments exit 2 before anything is asked', async (t) => {
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => stderr.push(String(chunk)) > 0) as typeof process.stderr.write;
  t.teardown(() => void (process.stderr.write = write));
  const api = ['--api', 'http://127.0.0.1:1'];
  t.equal(await main(['flip', HOST, 'blue', '--reason', 'x'.repeat(201), ...api]), 2);
  t.match(stderr.join(''), /--reason: must be at most 200 characters/);
  t.equal(await main(['flip', HOST, 'blue', '--reason', 'two\nlines', ...api]), 2);
  t.equal(await main(['history', ...api]), 2, 'history needs a host');
  t.equal(await main(['history', HOST, '--limit', '101', ...api]), 2);
  t.match(stderr.join(''), /--limit: must be a whole number from 1 to 100/);
});
