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

t.test('every command has --help', async (t) => {
  for (const cmd of ['run', 'render', 'check']) {
    const r = cli([cmd, '--help']);
    t.equal(r.code, 0, `${cmd} --help exits 0`);
    t.match(r.stdout, new RegExp(`Usage: haproxy-sync ${cmd}`));
  }
  t.match(cli(['--help']).stdout, /Commands:/);
});

t.test('bad flags and bad config files exit 2 with one line naming the problem', async (t) => {
  const dir = tmpDir(t);
  const unknownFlag = cli(['render', '--no-such-flag']);
  t.equal(unknownFlag.code, 2);
  t.equal(unknownFlag.stderr.trim().split('\n').length, 1, 'one line');
  t.match(unknownFlag.stderr, /unknown flag --no-such-flag/);

  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'haproxy:\n  spareSlots: lots\n');
  const badField = cli(['check', '--config', file]);
  t.equal(badField.code, 2);
  t.match(badField.stderr, new RegExp(`config file ${file}: haproxy.spareSlots: must be a whole number`));

  writeFileSync(file, 'haproxy:\n  spare_slots: 4\n');
  t.match(cli(['render', '--config', file]).stderr, /haproxy\.spare_slots: unknown field/);
  t.equal(cli(['render', '--config', join(dir, 'missing.yaml')]).code, 2, 'a missing explicit config file');
  t.equal(cli(['frobnicate']).code, 2, 'an unknown command');
});

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
