import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN } from '../helpers/env.ts';
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
