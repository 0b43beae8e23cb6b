import { join } from 'node:path';
import t from 'tap';
import { startHaproxy } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';
const messages = (logs: ReadonlyArray<Record<string, unknown>>): string[] => logs.map((l) => String(l['msg']));

t.test('HAProxy down and back: the failed applies end with one info line saying how long they failed', async (t) => {
  const env = await startEnv(t);
  await env.putSpec(HOST, blueGreenSpec());
  await env.startDaemon();
  await env.until(HOST, { body: 'blue' });

  await env.haproxy.stop();
  await env.putActive(HOST, 'green');
  const failed = (l: Record<string, unknown>): boolean => l['msg'] === 'apply failed; the last good config keeps serving';
  await waitFor(() => env.logs.some(failed), 40000, 'a failed apply logged');
  t.match(String(env.logs.find(failed)?.['code']), /^HAPROXY_(UNREACHABLE|RELOAD_FAILED)$/, 'the failure is HAProxy not answering');
  t.notOk(messages(env.logs).some((m) => m.startsWith('applies succeed again')), 'no recovery while it is down');

  const paths = env.paths;
  const restarted = await startHaproxy({ config: paths.config, masterSocket: paths.master, pidFile: join(env.dir, 'haproxy-again.pid') });
  t.teardown(() => restarted.stop());
  await env.until(HOST, { body: 'green' }, 30000);
  await waitFor(() => messages(env.logs).some((m) => m.startsWith('applies succeed again after')), 10000, 'recovery logged');
  const line = env.logs.find((l) => String(l['msg']).startsWith('applies succeed again after'));
  t.equal(line?.['level'], 'info');
  t.ok(Number(line?.['failures']) >= 1, 'counts the failed attempts');
  t.ok(Number(line?.['outageMs']) > 0, 'and how long they failed');
  t.match(String(line?.['msg']), /last HAPROXY_(UNREACHABLE|RELOAD_FAILED)\)$/, 'names the last failure');
});
