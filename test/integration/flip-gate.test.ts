import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import type { VHostView } from '../../src/http/vhosts.ts';
import { PREFIX, blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';

const HOST = 'shop.example.com';

interface ErrorBody {
  error: { code: string; message: string; live?: string; failing?: Array<{ name: string; address: string; status: string; check: string }> };
}

async function vhost(env: TestEnv): Promise<VHostView> {
  const res = await env.api('GET', `/v1/vhosts/${HOST}`);
  return res.body as VHostView;
}

/** Waits until HAProxy has checked every server of `colour` and reports `up` of them up. */
async function upIn(env: TestEnv, colour: string, up: number): Promise<void> {
  await waitUntil(`${colour} with ${up} servers up`, async () => {
    const backend = (await vhost(env)).backends.find((b) => b.colour === colour);
    return backend?.up === up && backend.servers.every((s) => !s.pending);
  }, 15000);
}

async function activeKey(env: TestEnv): Promise<{ value: string | null; modRevision: string | null }> {
  const res = await env.client.get(`${PREFIX}vhosts/${HOST}/active`).exec();
  return { value: res.kvs[0]?.value.toString() ?? null, modRevision: res.kvs[0]?.mod_revision ?? null };
}

t.test('health gate: an unhealthy colour is refused with its failing servers and nothing is written; force flips it', async (t) => {
  const env = await startEnv(t);
  const flips: string[] = [];
  await env.startDaemon({ onFlip: (r) => flips.push(r) });
  await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } }));
  await env.until(HOST, { body: 'blue' });
  const green = env.pods.filter((p) => p.colour === 'green');
  for (const pod of green) pod.setHealthy(false);
  await upIn(env, 'green', 0);

  const view = await vhost(env);
  t.match(view, { host: HOST, active: 'blue', problems: [], nodes: [{ node: 'test-lb', active: 'blue' }] }, 'GET shows the vhost as this node serves it');
  t.match(view.backends.find((b) => b.colour === 'green'), { live: false, ready: 2, up: 0, healthPath: '/healthz', servers: [{ status: 'DOWN', up: false }, { status: 'DOWN', up: false }] });
  t.match(view.backends.find((b) => b.colour === 'blue'), { live: true, ready: 2 });

  const before = await activeKey(env);
  const refused = await env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green' });
  t.equal(refused.status, 409);
  const err = (refused.body as ErrorBody).error;
  t.equal(err.code, 'FLIP_UNHEALTHY');
  t.match(err.message, /shop\.example\.com green has 0 of 2 servers up according to health checks on \/healthz, fewer than health\.minReady 1; nothing was written/);
  t.same(err.failing?.map((s) => s.address).sort(), green.map((p) => `127.0.0.1:${p.port}`).sort(), 'the answer lists each failing server');
  t.ok(err.failing?.every((s) => s.status === 'DOWN' && s.check === 'L7STS'), "with HAProxy's own status and check result");
  t.same(await activeKey(env), before, 'nothing was written to etcd');
  t.match((await env.get(HOST)).body, /^blue/, 'blue keeps serving');

  await env.putSpec(HOST, blueGreenSpec('web', { health: { path: '/healthz', minReady: 2 } }));
  green[0]!.setHealthy(true);
  await upIn(env, 'green', 1);
  const short = await env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green' });
  t.equal(short.status, 409, 'one server up is not enough for minReady 2');
  t.match((short.body as ErrorBody).error.message, /1 of 2 servers up .* fewer than health\.minReady 2/);
  t.same((short.body as ErrorBody).error.failing?.map((s) => s.address), [`127.0.0.1:${green[1]!.port}`], 'only the down server is listed');

  const forced = await env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green', force: true });
  t.equal(forced.status, 200, 'force skips the gate');
  t.match(forced.body, { from: 'blue', to: 'green', nodes: [{ node: 'test-lb', applied: true }] });
  t.equal((await activeKey(env)).value, 'green');
  t.match((await env.get(HOST)).body, /^green/, 'green serves');
  t.same(flips, ['unhealthy', 'unhealthy', 'ok'], 'each flip is counted by its result');
});

t.test('flip refusals: unknown vhost or colour → 404, a failed expect → 409; repeating the live colour writes nothing', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.putSpec('broken.example.com', '{"backends": {}}');
  await env.until(HOST, { body: 'blue' });
  const flip = (host: string, body: unknown) => env.api('POST', `/v1/vhosts/${host}/flip`, body);

  const cases: Array<[string, unknown, number, string, RegExp]> = [
    ['nothing.example.com', { to: 'green' }, 404, 'NOT_FOUND', /no such vhost: etcd has no key \/haproxy-sync\/vhosts\/nothing\.example\.com\/spec/],
    ['not_a_host', { to: 'green' }, 404, 'NOT_FOUND', /not a lower-case DNS name/],
    ['broken.example.com', { to: 'green' }, 404, 'NOT_FOUND', /is not served: etcd key \/haproxy-sync\/vhosts\/broken\.example\.com\/spec: backends: must name at least one colour/],
    [HOST, { to: 'purple' }, 404, 'NOT_FOUND', /"purple" is not a colour of shop\.example\.com \(colours: blue, green\)/],
    [HOST, { to: 'green', expect: 'green' }, 409, 'FLIP_CONFLICT', /live on blue, not green as expected; nothing was written/],
  ];
  for (const [host, body, status, code, message] of cases) {
    const res = await flip(host, body);
    t.equal(res.status, status, `${host} ${JSON.stringify(body)}`);
    t.match(res.body, { error: { code, message } });
  }
  t.equal((await activeKey(env)).value, null, 'none of them wrote anything');

  const same = await flip(HOST, { to: 'blue', expect: 'blue' });
  t.equal(same.status, 200);
  t.match(same.body, { from: 'blue', to: 'blue', changed: false, nodes: [{ node: 'test-lb', applied: true }] });
  t.equal((await activeKey(env)).value, null, 'flipping to the live colour writes nothing');

  const list = await env.api('GET', '/v1/vhosts');
  t.match(list.body, { node: 'test-lb', vhosts: [{ host: 'broken.example.com', active: null, backends: [], problems: [{ code: 'SPEC_INVALID' }] }, { host: HOST, active: 'blue' }] });
  t.equal((await env.api('GET', '/v1/vhosts/nothing.example.com')).status, 404);
  t.match((await env.api('DELETE', `/v1/vhosts/${HOST}`)).body, { error: { code: 'METHOD_NOT_ALLOWED' } });
  t.match((await env.api('GET', '/v1/vhosts/%E0%A4%A')).body, { error: { code: 'BAD_REQUEST' } }, 'a malformed escape is a 400, not a crash');
});
