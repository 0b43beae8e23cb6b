import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { waitFor } from '../helpers/wait.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { backendTemplate, REJECTED_LINE } from '../helpers/templates.ts';
import { tmpDir } from '../helpers/tmp.ts';

const HOST = 'shop.example.com';

t.test('a vhost put into etcd is served to its pods; deleting it stops routing it', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) seen.add((await env.get(HOST)).body.trim());
  t.same([...seen].sort(), ['blue blue-1', 'blue blue-2'], 'both blue pods take traffic, no green pod does');
  await env.del(`vhosts/${HOST}/spec`);
  await env.until(HOST, { status: 404 });
  t.notMatch(readFileSync(env.paths.config, 'utf8'), /shop\.example\.com/, 'the backend is gone from haproxy.cfg');
});

t.test('etcdctl put …/active green → green answers', async (t) => {
  const env = await startEnv(t);
  await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.putActive(HOST, 'blue');
  await env.until(HOST, { body: 'blue' });
  await env.putActive(HOST, 'green');
  await env.until(HOST, { body: 'green' });
  t.match((await env.get(HOST)).body, /^green green-[12]/);
  t.match(readFileSync(join(env.paths.mapsDir, 'hosts.map'), 'utf8'), `${HOST} be_${HOST}_green\n`, 'the map file holds the live colour');
});

t.test('a template HAProxy rejects: no reload, the previous config keeps serving, the error is logged', async (t) => {
  const template = backendTemplate(t);
  const env = await startEnv(t, { config: { templates: template.dir } });
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  const goodConfig = readFileSync(env.paths.config, 'utf8');
  const reloadsBefore = await env.reloads();

  template.break();
  await waitFor(() => daemon.reconciler.lastReport()?.code === 'HAPROXY_CHECK_FAILED');
  t.equal(await env.reloads(), reloadsBefore, 'HAProxy was not reloaded');
  t.equal(readFileSync(env.paths.config, 'utf8'), goodConfig, 'haproxy.cfg still holds the last good config');
  t.match((await env.get(HOST)).body, /^blue/, 'the last good config keeps serving');
  const logged = env.logs.find((l) => l['code'] === 'HAPROXY_CHECK_FAILED');
  t.ok(logged, 'the failure is logged with its code');
  t.match(String(logged?.['err']), new RegExp(REJECTED_LINE), "the log carries HAProxy's own error line");

  template.mend();
  await waitFor(() => daemon.reconciler.lastReport()?.ok === true);
  t.equal(daemon.reconciler.lastReport()?.mode, 'noop', 'back to the good template: nothing to apply');
});

t.test('one bad spec disables only its vhost, is reported, and nothing of it reaches haproxy.cfg', async (t) => {
  const env = await startEnv(t);
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.putSpec('broken-json.example.com', '{"backends": ');
  await env.putSpec('evil.example.com', { backends: { blue: { service: 'shop/web-blue\n    server evil 203.0.113.9:80', port: 'http' } } });
  await env.putSpec('colour.example.com', blueGreenSpec());
  await env.putActive('colour.example.com', 'purple');
  await env.until(HOST, { body: 'blue' });
  await waitFor(() => daemon.reconciler.problems().length >= 3);

  const cfg = readFileSync(env.paths.config, 'utf8');
  t.notMatch(cfg, /evil|203\.0\.113\.9|broken-json|colour\.example\.com/, 'no trace of the bad vhosts in haproxy.cfg');
  const problems = daemon.reconciler.problems();
  const byHost = (h: string) => problems.find((p) => p.host === h);
  t.match(byHost('broken-json.example.com'), { code: 'SPEC_INVALID', source: '/haproxy-sync/vhosts/broken-json.example.com/spec', message: /not valid JSON/ });
  t.match(byHost('evil.example.com'), { code: 'SPEC_INVALID', message: /backends\.blue\.service/ });
  t.match(byHost('colour.example.com'), { code: 'ACTIVE_INVALID', source: /vhosts\/colour\.example\.com\/active/, message: /purple/ });
  t.equal((await env.get('colour.example.com')).status, 404, 'a vhost with a bad active key is left out');
  t.match((await env.get(HOST)).body, /^blue/, 'the good vhost keeps serving');
});

t.test('50 changes within 100 ms cause at most 2 reloads, and the final state is right', async (t) => {
  const env = await startEnv(t, { config: { sync: { debounceMs: 50, maxDelayMs: 1000 } } });
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  await waitFor(() => daemon.reconciler.lastReport()?.ok === true);
  const before = await env.reloads();
  const writes: Array<Promise<void>> = [];
  for (let i = 0; i < 50; i++) {
    writes.push(i === 49 ? env.putActive(HOST, 'green') : env.putSpec(`burst-${i}.example.com`, blueGreenSpec()));
  }
  await Promise.all(writes);
  await env.until(HOST, { body: 'green' });
  await env.until('burst-48.example.com', { body: 'blue' });
  const reloads = (await env.reloads()) - before;
  t.ok(reloads >= 1 && reloads <= 2, `reloads: ${reloads}`);
  const cfg = readFileSync(env.paths.config, 'utf8');
  t.equal(cfg.match(/^backend be_burst-\d+\.example\.com_blue$/gm)?.length, 49, 'all 49 new vhosts are in the config');
});

t.test('files that cannot be written are reported with a code and retried, and the last good config keeps serving', async (t) => {
  const env = await startEnv(t);
  await env.putSpec(HOST, blueGreenSpec());
  const daemon = await env.startDaemon();
  await env.until(HOST, { body: 'blue' });
  await daemon.stop();

  const blocker = join(tmpDir(t), 'not-a-directory');
  writeFileSync(blocker, 'a file where a directory should be\n');
  const doc = parse(readFileSync(env.configFile, 'utf8')) as { haproxy: Record<string, unknown> };
  doc.haproxy['mapsDir'] = join(blocker, 'maps');
  writeFileSync(env.configFile, stringify(doc));
  const failing = await env.startDaemon();
  await env.putActive(HOST, 'green');
  await waitFor(() => failing.reconciler.lastReport()?.code === 'HAPROXY_FILES_UNWRITABLE');
  const first = failing.reconciler.lastReport();
  t.match(first?.message, new RegExp(`cannot write .* or the maps in ${blocker}/maps`), 'the message names the files');
  await waitFor(() => failing.reconciler.lastReport() !== first, 15000, 'a retry');
  t.equal(failing.reconciler.lastReport()?.code, 'HAPROXY_FILES_UNWRITABLE', 'retried, and reported again');
  t.match((await env.get(HOST)).body, /^blue/, 'nothing was applied: the last good config keeps serving');
});
