import { join } from 'node:path';
import t from 'tap';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';
import { Metrics } from '../../src/http/metrics.ts';
import { baseGlobal, startHaproxy } from '../helpers/haproxy.ts';
import { parseMetrics } from '../helpers/prometheus.ts';
import { tmpDir } from '../helpers/tmp.ts';

t.test('runtime_api_commands_total counts each Runtime API command once: accepted, refused, or unanswered', async (t) => {
  const dir = tmpDir(t);
  const hp = await startHaproxy({ dir, config: `${baseGlobal(dir)}backend be_x\n  server srv1 127.0.0.1:9 disabled\n` });
  t.teardown(() => hp.stop());
  const metrics = new Metrics({ version: 'test', sources: () => [] });
  const onCommand = (ok: boolean): void => metrics.runtimeCommand(ok);
  const runtime = new RuntimeClient({ socket: hp.adminSocket, onCommand });

  await runtime.showInfo();
  await runtime.command('show servers state');
  await runtime.batch(['show info', 'show stat']);
  await runtime.setServerState('be_x', 'srv1', 'maint');
  await t.rejects(runtime.setMap('/no/such.map', 'a.example.com', 'be_x'), { code: 'HAPROXY_COMMAND_FAILED' }, 'HAProxy refuses a map it does not know');
  await t.rejects(runtime.setServerAddr('be_x', 'nosuch', '127.0.0.1', 80), { code: 'HAPROXY_COMMAND_FAILED' }, 'and a server it does not know');
  const gone = new RuntimeClient({ socket: join(dir, 'missing.sock'), timeoutMs: 50, onCommand });
  await t.rejects(gone.showInfo(), { code: 'HAPROXY_SOCKET_UNREACHABLE' }, 'a socket nobody listens on');

  const s = parseMetrics(await metrics.registry.metrics());
  t.equal(s.value('haproxy_sync_runtime_api_commands_total', { result: 'ok' }), 5, 'five commands accepted');
  t.equal(s.value('haproxy_sync_runtime_api_commands_total', { result: 'error' }), 3, 'two refused and one unanswered');
});
