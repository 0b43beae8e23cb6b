import t from 'tap';
import { startEtcd } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';
const messages = (logs: ReadonlyArray<Record<string, unknown>>): string[] => logs.map((l) => String(l['msg']));

t.test('a start with etcd down says etcd is unreachable, in our words, and logs how long it was out once it is back', async (t) => {
  const env = await startEnv(t);
  await env.putSpec(HOST, blueGreenSpec());
  await env.etcd.stop();
  await env.startDaemon();

  await waitFor(() => env.logs.some((l) => l['code'] === 'ETCD_UNREACHABLE'), 20000, 'ETCD_UNREACHABLE logged');
  const unreachable = env.logs.find((l) => l['code'] === 'ETCD_UNREACHABLE' && l['source'] === 'etcd');
  t.match(String(unreachable?.['err']), new RegExp(`^etcd is unreachable at ${env.etcd.endpoint.replace(/[.:/]/g, '\\$&')}: `), 'names the endpoint');
  t.notOk(messages(env.logs).some((m) => m.includes('lease lost')), 'no talk of a lost lease');
  t.notOk(env.logs.some((l) => /circuit breaker/.test(JSON.stringify(l))), "the client's circuit breaker is not quoted");
  const ready = await env.apiText('/readyz');
  t.equal(ready.status, 503, 'not ready without etcd');
  t.match(ready.body, /etcd is unreachable/, '/readyz says why');
  t.notMatch(ready.body, /circuit breaker/);

  const again = await startEtcd({ dataDir: env.etcd.dataDir, clientPort: env.etcd.clientPort, peerPort: env.etcd.peerPort });
  t.teardown(() => again.stop());
  await env.until(HOST, { body: 'blue' }, 30000);
  const recovered = env.logs.find((l) => String(l['msg']).startsWith('etcd source recovered after'));
  t.ok(recovered, 'the recovery is logged');
  t.equal(recovered?.['level'], 'info');
  t.ok(Number(recovered?.['outageMs']) > 0, 'with the length of the outage');
  t.match(String(recovered?.['lastError']), /etcd is unreachable/);
});
