// A fill command HAProxy refuses stops the Runtime API batch before anything sends traffic to the new servers;
// the reload fallback then applies the whole change from the checked files.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startPod } from '../../src/demo/pods.ts';
import type { SyncReport } from '../../src/reconcile/reconciler.ts';
import { startAdminProxy } from '../helpers/admin-proxy.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { startLoad } from '../helpers/load.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';
const GREEN = `be_${HOST}_green`;

t.test('a refused fill leaves traffic on the old servers and ends right through the reload fallback', async (t) => {
  const own = tmpDir(t);
  const proxyPath = join(own, 'admin-proxy.sock');
  const templates = join(own, 'templates');
  mkdirSync(templates);
  // Changes in one sync: the new green pod and the flip to green.
  const env = await startEnv(t, { config: { haproxy: { adminSocket: proxyPath }, templates, sync: { debounceMs: 500, maxDelayMs: 3000 } } });
  // HAProxy listens on the real admin socket; the daemon talks to it through the proxy.
  const global = readFileSync(new URL('../../templates/global.eta', import.meta.url), 'utf8');
  writeFileSync(join(templates, 'global.eta'), global.replace('<%= it.adminSocket %>', env.paths.admin));
  const proxy = await startAdminProxy(t, proxyPath, env.paths.admin);
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  await waitFor(() => daemon.reconciler.applied() !== null && daemon.reconciler.lastReport()?.ok === true, 10000, 'applied');
  const blue = env.pods.filter((p) => p.colour === 'blue');
  const green = env.pods.filter((p) => p.colour === 'green');
  const load = startLoad({ port: env.httpPort, host: HOST, keepAlive: 1, fresh: 1, maxMs: 40000 });
  t.teardown(() => load.stop());

  const refusedLine = new RegExp(`^set server ${GREEN.replaceAll('.', '\\.')}/srv3 addr `);
  proxy.refuse(refusedLine);
  const mark = proxy.commands.length;
  const before = daemon.reconciler.lastReport();
  const green3 = await startPod('green', 'green-3');
  t.teardown(() => green3.close());
  env.writeServices({ 'shop/web-blue': blue, 'shop/web-green': [...green, green3] });
  await env.putActive(HOST, 'green');
  let report: SyncReport | null = null;
  await waitFor(() => {
    report = daemon.reconciler.lastReport();
    return report !== before && report?.mode !== 'noop';
  }, 15000, 'the apply');
  t.match(report, { ok: true, mode: 'reload', fallback: { code: 'HAPROXY_COMMAND_FAILED', message: /no-such-server|No such server/i } }, 'the refusal is reported; the reload applied the change');

  const sent = proxy.commands.slice(mark);
  t.ok(sent.some((c) => refusedLine.test(c)), 'the fill was sent and refused');
  t.notOk(sent.some((c) => c.startsWith('set map ')), 'the flip was never sent after the refused fill');
  t.notOk(sent.some((c) => c.startsWith(`set server ${GREEN}/srv3 state ready`)), 'the refused slot was never made ready');
  await env.untilServedBy(HOST, [...green, green3]);

  proxy.refuse(null);
  const green4 = await startPod('green', 'green-4');
  t.teardown(() => green4.close());
  const last = daemon.reconciler.lastReport();
  env.writeServices({ 'shop/web-blue': blue, 'shop/web-green': [...green, green3, green4] });
  await waitFor(() => daemon.reconciler.lastReport() !== last && daemon.reconciler.lastReport()?.mode !== 'noop', 15000, 'the next apply');
  t.match(daemon.reconciler.lastReport(), { ok: true, mode: 'runtime' }, 'the Runtime API path works again');

  const result = await load.stop();
  t.ok(result.ok > 20, `${result.ok} requests answered`);
  t.strictSame(result.failures, {}, 'no request failed');
});
