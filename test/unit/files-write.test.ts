// writeIfChanged compares a file this process wrote in memory, and reads a
// file only when it does not know it (first write after a start, a file
// changed behind its back).
import * as fsp from 'node:fs/promises';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';

type Files = typeof import('../../src/haproxy/files.ts');

/** The module with a readFile that counts its calls per path. */
async function filesCountingReads(t: Test): Promise<{ files: Files; reads: (path: string) => number }> {
  const counts = new Map<string, number>();
  const readFile = ((path: string, ...rest: unknown[]) => {
    counts.set(String(path), (counts.get(String(path)) ?? 0) + 1);
    return (fsp.readFile as (...a: unknown[]) => Promise<string>)(path, ...rest);
  }) as typeof fsp.readFile;
  const files = await t.mockImport<Files>('../../src/haproxy/files.ts', { 'node:fs/promises': { ...fsp, readFile } });
  return { files, reads: (path) => counts.get(path) ?? 0 };
}

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'hs-write-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a file this process wrote is not read back to be compared', async (t) => {
  const { files, reads } = await filesCountingReads(t);
  const path = join(tmp(t), 'haproxy.cfg');
  t.equal(await files.writeIfChanged(path, 'one\n'), true, 'a missing file is written');
  const afterFirst = reads(path);
  t.equal(await files.writeIfChanged(path, 'one\n'), false, 'the same content again is not written');
  t.equal(await files.writeIfChanged(path, 'two\n'), true, 'new content is written');
  t.equal(await files.writeIfChanged(path, 'two\n'), false);
  t.equal(reads(path), afterFirst, 'none of these read the file');
  t.equal(readFileSync(path, 'utf8'), 'two\n');
});

t.test('a file found on disk is read once, then known', async (t) => {
  const { files, reads } = await filesCountingReads(t);
  const path = join(tmp(t), 'hosts.map');
  writeFileSync(path, 'a b\n');
  t.equal(await files.writeIfChanged(path, 'a b\n'), false, 'the content already there is kept');
  t.equal(reads(path), 1, 'read once to find out');
  t.equal(await files.writeIfChanged(path, 'a b\n'), false);
  t.equal(reads(path), 1, 'and not again');
});

t.test('a file changed behind the process is read and rewritten', async (t) => {
  const { files } = await filesCountingReads(t);
  const dir = tmp(t);
  const path = join(dir, 'haproxy.cfg');
  await files.writeIfChanged(path, 'ours\n');
  writeFileSync(path, 'edited by hand\n');
  t.equal(await files.writeIfChanged(path, 'ours\n'), true, 'an edit in place is noticed');
  t.equal(readFileSync(path, 'utf8'), 'ours\n');
  writeFileSync(join(dir, 'other'), 'ours\n');
  renameSync(join(dir, 'other'), path);
  t.equal(await files.writeIfChanged(path, 'ours\n'), false, 'a replacement with the same content needs no write');
  rmSync(path);
  t.equal(await files.writeIfChanged(path, 'ours\n'), true, 'a deleted file is written again');
  t.equal(readFileSync(path, 'utf8'), 'ours\n');
});

t.test('a promoted staged file is known by its content', async (t) => {
  const { files, reads } = await filesCountingReads(t);
  const path = join(tmp(t), 'haproxy.cfg');
  const staged = await files.stage(path, 'checked\n');
  await files.promote(staged, path, 'checked\n');
  t.equal(await files.writeIfChanged(path, 'checked\n'), false);
  t.equal(reads(path), 0, 'without reading it');
});
