import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { httpGet } from '../../src/demo/http-get.ts';
import { launch, waitUntil } from '../../src/demo/processes.ts';

t.test('the demo serves blue, flips to green with the printed etcdctl line, and cleans up on Ctrl-C', async (t) => {
  const demo = launch(process.execPath, [join(import.meta.dirname, '../../src/demo/main.ts')]);
  t.teardown(() => demo.stop());
  await waitUntil('demo ready', async () => demo.output().includes('Ctrl-C stops everything.'), 60000, demo);
  const out = demo.output();
  const curl = /curl -H 'Host: (\S+)' (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
  const flip = /etcdctl (--endpoints=\S+) put (\S+) green/.exec(out);
  const dir = /files in (\S+)\)/.exec(out)?.[1];
  t.ok(curl && flip && dir, 'the demo prints the curl and etcdctl lines');
  if (!curl?.[1] || !curl[2] || !flip?.[1] || !flip[2] || !dir) return;
  const [host, url] = [curl[1], curl[2]];

  t.match((await httpGet(url, { host })).body, /^blue blue-[12]/, 'blue answers');
  execFileSync('etcdctl', [flip[1], 'put', flip[2], 'green'], { stdio: 'pipe' });
  await waitUntil('green answering', async () => (await httpGet(url, { host })).body.startsWith('green'), 15000);
  t.pass('after the printed etcdctl line, green answers');

  demo.child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => demo.child.once('exit', (c) => resolve(c)));
  t.equal(code, 0, 'Ctrl-C exits 0');
  t.notOk(existsSync(dir), 'the temporary directory is removed');
  await t.rejects(httpGet(url, { host, timeoutMs: 1000 }), 'HAProxy is stopped');
});
