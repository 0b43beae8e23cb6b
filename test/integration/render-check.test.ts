import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { BIN, blueGreenSpec, startEnv } from '../helpers/env.ts';
import { tmpDir } from '../helpers/tmp.ts';

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('render prints the config and maps and writes nothing; check validates with haproxy -c', async (t) => {
  const env = await startEnv(t);
  await env.putSpec('shop.example.com', blueGreenSpec());
  await env.putActive('shop.example.com', 'green');
  await env.putSpec('bad.example.com', '{oops');
  const fresh = tmpDir(t);
  const doc = parse(readFileSync(env.configFile, 'utf8')) as { haproxy: Record<string, unknown> };
  doc.haproxy['config'] = join(fresh, 'haproxy.cfg');
  doc.haproxy['mapsDir'] = join(fresh, 'maps');
  const configFile = join(fresh, 'config.yaml');
  writeFileSync(configFile, stringify(doc));

  const r = cli(['render', '--config', configFile]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^backend be_shop\.example\.com_green$/m);
  t.match(r.stdout, /^# ---- map file .*hosts\.map ----\nshop\.example\.com be_shop\.example\.com_green$/m);
  t.match(r.stderr, /problem SPEC_INVALID: etcd key \/haproxy-sync\/vhosts\/bad\.example\.com\/spec: not valid JSON/);
  t.notOk(existsSync(join(fresh, 'haproxy.cfg')), 'render writes no haproxy.cfg');
  t.notOk(existsSync(join(fresh, 'maps')), 'render writes no maps');

  const ok = cli(['check', '--config', configFile]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /valid: 1 vhosts, 1 problems, haproxy -c passed/);

  const templates = tmpDir(t);
  writeFileSync(join(templates, 'frontend.eta'), 'frontend fe_http\n    bind <%= it.bind[0][0] %>\n    no-such-directive here\n');
  const bad = cli(['check', '--config', configFile, '--templates', templates]);
  t.equal(bad.code, 1, 'a template HAProxy rejects fails the check');
  t.match(bad.stderr, /no-such-directive/);
});
