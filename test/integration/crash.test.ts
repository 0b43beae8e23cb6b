import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { haproxyBinary } from '../../src/demo/haproxy-binary.ts';
import { waitUntil } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';

const VHOSTS = 300;

t.test('SIGKILL during applies never leaves a partial haproxy.cfg; restarted, the daemon converges', async (t) => {
  const env = await startEnv(t, { config: { sync: { debounceMs: 0, maxDelayMs: 10 } } });
  const writes: Array<Promise<void>> = [];
  for (let i = 0; i < VHOSTS; i++) writes.push(env.putSpec(`v${i}.example.com`, blueGreenSpec()));
  await Promise.all(writes);

  let daemon = env.spawnDaemon();
  await env.until('v0.example.com', { body: 'blue' }, 30000);
  let colour = 'blue';
  for (let round = 0; round < 5; round++) {
    colour = colour === 'blue' ? 'green' : 'blue';
    const flips: Array<Promise<void>> = [];
    for (let i = 0; i < VHOSTS; i += 7) flips.push(env.putActive(`v${i}.example.com`, colour));
    for (let i = 0; i < 20; i++) flips.push(env.putSpec(`churn-${round}-${i}.example.com`, blueGreenSpec()));
    await Promise.all(flips);
    await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 150)));
    daemon.child.kill('SIGKILL');
    await new Promise((r) => daemon.child.once('exit', r));

    const cfg = readFileSync(env.paths.config, 'utf8');
    t.match(cfg, /^# haproxy\.cfg for test-lb/, `round ${round}: haproxy.cfg starts as rendered`);
    t.ok(cfg.endsWith('\n') && cfg.includes('backend be_no_vhost'), `round ${round}: haproxy.cfg is whole`);
    t.doesNotThrow(() => execFileSync(haproxyBinary(), ['-c', '-f', env.paths.config], { stdio: 'pipe' }), `round ${round}: haproxy.cfg passes haproxy -c`);
    daemon = env.spawnDaemon();
  }
  await env.until('v0.example.com', { body: colour }, 30000);
  await env.until('churn-4-19.example.com', { body: 'blue' }, 30000);
  await waitUntil('the last flip everywhere', async () => (await env.get(`v${VHOSTS - 6}.example.com`)).body.startsWith(colour), 30000);
  const leftovers = readdirSync(env.dir).filter((f) => f.endsWith('.tmp'));
  t.ok(leftovers.length <= 5, `temporary files left by killed applies are few (${leftovers.length}) and never the live file`);
});
