/**
 * File writes that never leave a partial file behind: write a temporary file
 * in the same directory, fsync it, rename it over the target, fsync the
 * directory. A crash at any point leaves either the old or the new file.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeSynced(tmp, content, mode);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(path));
}

/** Writes a file next to `path` without replacing it, for checking before it goes live. */
export async function stage(path: string, content: string): Promise<string> {
  const staged = tempPathFor(path);
  await writeSynced(staged, content);
  return staged;
}

/** Makes a staged file live. */
export async function promote(staged: string, path: string): Promise<void> {
  await rename(staged, path);
  await syncDir(dirname(path));
}

/** Where the config HAProxy ran before haproxy-sync first replaced it is kept. */
export function backupPathOf(path: string): string {
  return `${path}.before-haproxy-sync`;
}

/**
 * Keeps a copy of `path` the first time it is about to be replaced, so that
 * the config an operator (or Debian) had is never lost; later replacements
 * leave that copy alone. Returns the copy's path when it made one.
 */
export async function keepFirstVersion(path: string): Promise<string | null> {
  const backup = backupPathOf(path);
  try {
    await copyFile(path, backup, constants.COPYFILE_EXCL);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EEXIST') return null;
    throw err;
  }
  await syncDir(dirname(path));
  return backup;
}

export async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Writes `content` unless the file already holds exactly that; says whether it wrote. */
export async function writeIfChanged(path: string, content: string, mode = 0o644): Promise<boolean> {
  if ((await readText(path)) === content) return false;
  await writeAtomic(path, content, mode);
  return true;
}

/**
 * Removes the temporary files a crash left next to `path` (staged configs,
 * half-written maps or state); returns their names. Only names this module
 * makes are touched: ".<base>.<pid>.<hex>.tmp".
 */
export async function sweepStaged(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const stale = names.filter((n) => n.startsWith(prefix) && /^\.\d+\.[0-9a-f]{8}\.tmp$/.test(n.slice(prefix.length - 1)));
  await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
  return stale.map((n) => join(dir, n));
}

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

async function writeSynced(path: string, content: string, mode = 0o644): Promise<void> {
  const handle = await open(path, 'w', mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
