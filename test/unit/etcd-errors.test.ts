import { Etcd3 } from 'etcd3';
import t from 'tap';
import { freePort } from '../../src/demo/processes.ts';
import { describeEtcdError, isEtcdUnreachable } from '../../src/sources/etcd-errors.ts';

/** The errors the real client gives for an endpoint nothing listens on: first refused, then its circuit breaker. */
async function realErrors(endpoint: string): Promise<unknown[]> {
  const client = new Etcd3({ hosts: [endpoint], dialTimeout: 1000 });
  const errors: unknown[] = [];
  try {
    for (let i = 0; i < 3; i++) await client.get('k').string().catch((err: unknown) => errors.push(err));
  } finally {
    client.close();
  }
  return errors;
}

t.test("the client's refused connection and its open circuit breaker both become ETCD_UNREACHABLE, in our words", async (t) => {
  const endpoint = `http://127.0.0.1:${await freePort()}`;
  const errors = await realErrors(endpoint);
  t.equal(errors.length, 3, 'every call failed');
  t.ok(errors.some((e) => /circuit breaker/.test(String(e))), 'the client did open its circuit breaker');
  for (const err of errors) {
    t.ok(isEtcdUnreachable(err));
    const described = describeEtcdError(err, [endpoint], 'SOURCE_ERROR');
    t.equal(described.code, 'ETCD_UNREACHABLE');
    t.match(described.message, new RegExp(`^etcd is unreachable at ${endpoint.replace(/[.:/]/g, '\\$&')}: `));
    t.notMatch(described.message, /circuit breaker|Resolution note/);
  }
  t.match(describeEtcdError(errors[0], [endpoint], 'SOURCE_ERROR').message, /ECONNREFUSED/, 'the refusal keeps its cause');
});

t.test('other failures keep the code the caller gives and the client message', async (t) => {
  const err = new Error('etcdserver: permission denied');
  t.notOk(isEtcdUnreachable(err));
  const described = describeEtcdError(err, ['http://etcd:2379'], 'NODE_STATUS_FAILED');
  t.equal(described.code, 'NODE_STATUS_FAILED');
  t.equal(described.message, 'etcdserver: permission denied');
});
