// Re-watching etcd does not pile up listeners on the source's stop signal.
import { EventEmitter, getEventListeners } from 'node:events';
import type { Etcd3 } from 'etcd3';
import t from 'tap';
import { EtcdSource } from '../../src/sources/etcd.ts';
import { captureLogs } from '../helpers/logs.ts';
import { waitFor } from '../helpers/wait.ts';

class FakeWatcher extends EventEmitter {
  async cancel(): Promise<void> {}
}

t.test('each ended watch removes its abort listener', async (t) => {
  const watchers: FakeWatcher[] = [];
  const client = {
    getAll: () => ({ prefix: () => ({ exec: async () => ({ kvs: [], header: { revision: '1' } }) }) }),
    watch: () => ({
      prefix: () => ({
        startRevision: () => ({
          create: async () => {
            const w = new FakeWatcher();
            watchers.push(w);
            return w;
          },
        }),
      }),
    }),
  } as unknown as Etcd3;
  const source = new EtcdSource({ client, prefix: '/p/', log: captureLogs().log });
  const signal = (source as unknown as { abort: AbortController }).abort.signal;
  source.start(() => {});
  t.teardown(() => source.stop());
  for (let round = 1; round <= 3; round++) {
    await waitFor(() => watchers.length === round && watchers[round - 1]!.listenerCount('error') > 0, 5000, `watch ${round}`);
    watchers[round - 1]!.emit('error', new Error('compacted'));
  }
  await waitFor(() => watchers.length === 4, 5000, 'watch 4');
  await waitFor(() => getEventListeners(signal, 'abort').length <= 1, 1000, 'listeners');
  t.equal(getEventListeners(signal, 'abort').length, 1, 'one listener: the running watch\'s, after three ended watches');
  t.equal(source.status().restarts, 3);
});
