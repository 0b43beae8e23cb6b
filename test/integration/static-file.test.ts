import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { waitFor } from '../helpers/wait.ts';
import { httpGet } from '../../src/demo/http-get.ts';
import { waitUntil } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';

const HOST = 'shop.example.com';

t.test('a broken services file keeps the last good content serving, and a fixed one is applied', async (t) => {
  const env = await startEnv(t);
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });

  writeFileSync(env.paths.services, 'services:\n  shop/web-blue:\n    http: ["10.0.0.1:80", "not-an-address"]\n');
  await waitFor(() => daemon.reconciler.problems().some((p) => p.code === 'STATIC_FILE_INVALID'));
  const problem = daemon.reconciler.problems().find((p) => p.code === 'STATIC_FILE_INVALID');
  t.match(problem?.message, /services\.shop\/web-blue\.http\[1\]: "not-an-address" must be "ip:port"/, 'the problem names the entry');
  t.match(problem?.message, /keeping the last good content/);
  t.match((await env.get(HOST)).body, /^blue/, 'the last good endpoints keep serving');

  writeFileSync(env.paths.services, 'services: [unclosed');
  await waitFor(() => daemon.reconciler.problems().some((p) => /not valid YAML/.test(p.message)));
  t.match((await env.get(HOST)).body, /^blue/, 'still serving after invalid YAML');

  const bluePods = env.pods.filter((p) => p.colour === 'blue');
  env.writeServices({ 'shop/web-blue': [bluePods[1]!], 'shop/web-green': env.pods.filter((p) => p.colour === 'green') });
  await waitFor(() => !daemon.reconciler.problems().some((p) => p.code === 'STATIC_FILE_INVALID'));
  await waitFor(() => daemon.reconciler.lastReport()?.ok === true && daemon.reconciler.applied()?.desired.vhosts[0]?.backends[0]?.servers.length === 1);
  for (let i = 0; i < 4; i++) t.equal((await env.get(HOST)).body, 'blue blue-2\n', 'the fixed file is applied: only blue-2 is left');
});

t.test('nothing is rendered before every source has completed its first read', async (t) => {
  const env = await startEnv(t);
  rmSync(env.paths.services);
  await env.putSpec(HOST, blueGreenSpec());
  const bootstrap = readFileSync(env.paths.config, 'utf8');
  const daemon = await env.startDaemon();
  await waitFor(() => daemon.reconciler.waiting().includes('static'));
  await new Promise((r) => setTimeout(r, 500));
  t.equal(readFileSync(env.paths.config, 'utf8'), bootstrap, 'haproxy.cfg untouched while the services file has never been read');
  const ready = await httpGet(`http://127.0.0.1:${env.apiPort}/readyz`);
  t.equal(ready.status, 503);
  t.match(JSON.parse(ready.body), { ready: false, reasons: [/source static has not synced/] });

  env.writeServices({ 'shop/web-blue': env.pods.filter((p) => p.colour === 'blue') });
  await env.until(HOST, { body: 'blue' });
  await waitUntil('ready', async () => (await httpGet(`http://127.0.0.1:${env.apiPort}/readyz`)).status === 200, 15000);
  t.pass('ready once applied');
});
