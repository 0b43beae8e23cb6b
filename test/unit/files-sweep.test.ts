// Temporary files a crash left next to a file are swept; nothing else is touched.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stage, sweepStaged } from '../../src/haproxy/files.ts';

t.test('staged files of a file are removed, others stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-sweep-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, 'live\n');
  const staged = await stage(cfg, 'half\n');
  writeFileSync(join(dir, '.haproxy.cfg.notours'), 'x');
  writeFileSync(join(dir, '.other.cfg.123.abcdef01.tmp'), 'x');
  t.strictSame(await sweepStaged(cfg), [staged]);
  t.notOk(existsSync(staged));
  t.strictSame(readdirSync(dir).sort(), ['.haproxy.cfg.notours', '.other.cfg.123.abcdef01.tmp', 'haproxy.cfg']);
  t.strictSame(await sweepStaged(join(dir, 'missing', 'x.cfg')), [], 'a missing directory is nothing to sweep');
});
