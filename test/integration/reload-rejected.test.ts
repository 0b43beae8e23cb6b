/**
 * A config that passes `haproxy -c` but that HAProxy cannot load: a bind on
 * a port another process holds (a check does not bind). On every HAProxy
 * version the failure is reported (from 2.7 with HAProxy's own error line),
 * the old workers keep serving, and the daemon retries only with backoff.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { MasterClient } from '../../src/haproxy/master.ts';
import type { SyncReport } from '../../src/reconcile/reconciler.ts';
import { answersReload, parseVersion } from '../../src/haproxy/version.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { parseMetrics } from '../helpers/prometheus.ts';
import { freePort } from '../helpers/ports.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';

t.test('a bind on a port in use: reported with HAProxy\'s words, old workers serve, retried with backoff', async (t) => {
  const templates = tmpDir(t);
  const main = readFileSync(new URL('../../templates/haproxy.cfg.eta', import.meta.url), 'utf8');
  const template = join(templates, 'haproxy.cfg.eta');
  writeFileSync(template, main);
  const env = await startEnv(t, { config: { templates } });
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  const version = parseVersion(await new MasterClient({ socket: env.paths.master }).command('show version'));
  if (version === null) throw new Error('no HAProxy version');
  t.comment(`HAProxy ${version.full}`);

  const reports = watchReports(() => daemon.reconciler.lastReport());
  const failures = async (): Promise<number> => parseMetrics((await env.apiText('/metrics')).body).value('haproxy_sync_reloads_total', { result: 'failure' }) ?? NaN;
  const failuresBefore = await failures();

  const port = await freePort();
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  writeFileSync(template, `${main}\nfrontend fe_taken\n    bind 127.0.0.1:${port}\n`);

  // A sync left over from the spec's may come first; the template's ends in the failure.
  let first = await reports.next();
  if (first.code !== 'HAPROXY_RELOAD_FAILED') first = await reports.next();
  t.match(first, { ok: false, code: 'HAPROXY_RELOAD_FAILED' });
  if (answersReload(version)) {
    t.match(first.message, new RegExp(`cannot bind socket \\(Address already in use\\) for \\[127\\.0\\.0\\.1:${port}\\]`), "HAProxy's own error line");
    t.notMatch(first.message, /NOTICE|path to executable/, 'the error lines only, not the whole startup log');
  } else {
    t.match(first.message, /could not load the new configuration.*journalctl -u haproxy/, '2.6 keeps the reason in its own log, and the message says where');
  }
  const logged = env.logs.find((l) => l['code'] === 'HAPROXY_RELOAD_FAILED');
  t.equal(logged?.['err'], first.message, 'logged with its code');
  // Between attempts (HAProxy pauses its listeners while one loads), the old workers serve.
  await env.until(HOST, { body: 'blue' }, 700);
  t.pass('the old workers keep serving after the failed reload');

  const second = await reports.next();
  await env.until(HOST, { body: 'blue' }, 700);
  const third = await reports.next();
  t.match([second, third], [{ code: 'HAPROXY_RELOAD_FAILED' }, { code: 'HAPROXY_RELOAD_FAILED' }], 'retried by itself, and failed again');
  // The pause before each retry: from the end of one attempt to the start of the next (1 s, then 2 s, each -20% at least).
  const [pause1, pause2] = [gap(first, second), gap(second, third)];
  t.ok(pause1 >= 780 && pause2 >= 1560 && pause2 > pause1, `retried with growing backoff: ${pause1} ms, then ${pause2} ms`);
  t.equal((await failures()) - failuresBefore, 3, 'reloads_total{result="failure"}: one per attempt, no hidden retries');
  t.equal(parseMetrics((await env.apiText('/metrics')).body).value('haproxy_sync_config_last_reload_successful'), 0);

  // The port comes free: a later retry loads the config, with no new change needed. (Read from the log:
  // another sync may follow the reload at once, before the report is looked at.)
  const logsBefore = env.logs.length;
  await new Promise<void>((resolve) => holder.close(() => resolve()));
  await waitFor(() => env.logs.slice(logsBefore).some((l) => l['msg'] === 'applied by reload'), 15000, 'the retry that loads the config');
  t.notOk(env.logs.slice(logsBefore).some((l) => l['code'] === 'HAPROXY_RELOAD_FAILED'), 'the first retry with the port free loads it');
  t.match((await env.get(HOST)).body, /^blue/);
});

/** Each sync's report, in order, as the daemon makes them (polled; syncs here are seconds apart). */
function watchReports(latest: () => SyncReport | null): { next(timeoutMs?: number): Promise<SyncReport> } {
  let seen = latest();
  return {
    async next(timeoutMs = 20000) {
      await waitFor(() => latest() !== seen, timeoutMs, 'the next sync');
      seen = latest();
      if (seen === null) throw new Error('no report');
      return seen;
    },
  };
}

function gap(earlier: SyncReport, later: SyncReport): number {
  return later.at - later.durationMs - earlier.at;
}
