// The daemon keeps serving through Kubernetes API failures and catches up
// afterwards: an outage, a 410 in the middle of a watch, a stalled stream.
// Real etcd, real HAProxy, real traffic; Kubernetes is the fake API server.
import t from 'tap';
import type { Pod } from '../../src/demo/pods.ts';
import { sleep } from '../../src/sources/backoff.ts';
import { blueGreenSpec, podAnswer, startEnv, type KubeEnvOptions, type TestEnv } from '../helpers/env.ts';
import type { Test } from 'tap';

const HOST = 'shop.example.com';

async function blueWorld(t: Test, kubernetes: KubeEnvOptions = {}): Promise<{ env: TestEnv; blue: Pod[] }> {
  const env = await startEnv(t, { kubernetes, services: { 'shop/web-blue': ['blue', 2], 'shop/web-green': ['green', 1] } });
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  const blue = env.pods.filter((p) => p.colour === 'blue');
  await env.untilServedBy(HOST, blue);
  return { env, blue };
}

function kube(env: TestEnv) {
  if (!env.kube) throw new Error('the kubernetes option was expected');
  return env.kube;
}

t.test('API server down for 10 s: serving continues unchanged; changes made meanwhile are applied after it returns', async (t) => {
  const { env, blue } = await blueWorld(t);
  const [blue1, blue2] = blue;
  if (!blue1 || !blue2) throw new Error('two blue pods expected');
  const server = kube(env);
  const reloadsBefore = await env.reloads();

  await server.stop();
  const blue3 = await env.startPod('blue', 'blue-3');
  env.publish('shop/web-blue', [blue2, blue3]);
  const answers = new Set<string>();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (const a of await env.servedBy(HOST, 4)) answers.add(a);
    await sleep(500);
  }
  t.same([...answers].sort(), [podAnswer(blue1), podAnswer(blue2)], 'for 10 s, every request was answered by the pods of before');
  t.equal(await env.reloads(), reloadsBefore, 'HAProxy was left alone');
  t.ok(env.logs.some((l) => l['source'] === 'kubernetes' && l['code'] === 'SOURCE_ERROR' && /ECONNREFUSED/.test(String(l['err']))), 'the outage was noticed and logged');

  await server.restart();
  await env.untilServedBy(HOST, [blue2, blue3], 45_000);
  t.pass('the change made while the API server was down is served');
  const recovered = env.logs.find((l) => l['source'] === 'kubernetes' && String(l['msg']).startsWith('kubernetes source recovered after'));
  t.ok(recovered, 'the recovery is logged');
  t.equal(recovered?.['level'], 'info');
  t.ok(Number(recovered?.['outageMs']) > 0, 'with the length of the outage');
  t.match(String(recovered?.['lastError']), /ECONNREFUSED/, 'and the last error seen');
});

t.test('410 in the middle of a watch: relisted, and endpoints deleted meanwhile are removed', async (t) => {
  const { env, blue } = await blueWorld(t);
  const server = kube(env);
  const extra = await env.startPod('blue', 'blue-3');
  env.publish('shop/web-blue', [extra], { slice: 'web-blue-extra' });
  await env.untilServedBy(HOST, [...blue, extra]);
  const lists = (): number => server.requests.filter((r) => !r.watch && r.path.endsWith('/endpointslices')).length;
  const listsBefore = lists();

  // etcd compacts past the deletion before the watch sends it: the stream carries only the 410.
  server.stallStreams();
  server.remove('endpointslices', 'shop', 'web-blue-extra');
  server.compact();
  server.sendGone({ dropPending: true });
  server.unstall();
  await env.untilServedBy(HOST, blue);
  t.ok(lists() > listsBefore, 'the deletion came from a relist');
  t.notOk(env.logs.some((l) => l['source'] === 'kubernetes' && l['level'] === 'error'), 'a 410 is not an error');
});

t.test('a stalled stream is detected and relisted within the documented bound; traffic follows', async (t) => {
  const watchTimeoutSeconds = 5;
  const { env, blue } = await blueWorld(t, { watchTimeoutSeconds });
  const [blue1] = blue;
  if (!blue1) throw new Error('a blue pod expected');
  const server = kube(env);

  server.stallStreams();
  const stalledAt = server.requests.length;
  env.publish('shop/web-blue', [blue1]);
  const boundMs = 2 * watchTimeoutSeconds * 1000;
  await env.untilServedBy(HOST, [blue1], boundMs + 15_000);
  const stall = env.logs.find((l) => l['code'] === 'SOURCE_STALLED');
  t.match(stall, { level: 'warn', source: 'kubernetes', boundMs }, 'logged with its code and the bound');
  t.ok(server.requests.slice(stalledAt).some((r) => !r.watch && r.path.endsWith('/endpointslices')), 'the change came from a fresh list');

  server.unstall();
  env.publish('shop/web-blue', blue);
  await env.untilServedBy(HOST, blue);
  t.pass('watching again after the stall ends');
});
