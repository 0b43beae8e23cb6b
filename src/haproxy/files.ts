/**
 * File writes that never leave a partial file behind: write a temporary file
 * in the same directory, fsync it, rename it over the target, fsync the
 * directory. A crash at any point leaves either the old or the new file.
 */
import { randomBytes } from 'node:crypto';
import { constants, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * `durable: false` leaves out both fsyncs, for a caller that acts on the new
 * content at once and calls flush() right after: the rename is just as
 * atomic for every reader, only a power loss before the flush could lose it.
 */
export async function writeAtomic(path: string, content: string, mode = 0o644, durable = true): Promise<void> {
  if (!durable) return writeAtomicNow(path, content, mode);
  const tmp = tempPathFor(path);
  written.delete(path);
  try {
    await writeSynced(tmp, content, mode, durable);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (durable) await syncDir(dirname(path));
  await remember(path, content);
}

/**
 * Without fsync, the write and the rename take well under a millisecond for
 * a map file, far less than the turns of the event loop that asynchronous
 * calls would wait: this is on the way of every flip.
 */
function writeAtomicNow(path: string, content: string, mode: number): void {
  const tmp = tempPathFor(path);
  written.delete(path);
  try {
    writeFileSync(tmp, content, { mode });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const st = statSync(path);
  written.set(path, { content, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
}

/** Puts files written with `durable: false` on disk: each file, then their directories. */
export async function flush(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  for (const dir of new Set(paths.map((p) => dirname(p)))) await syncDir(dir);
}

/**
 * What this process last wrote (or found equal on disk) at each path, with
 * the file's identity then. A file still of that identity holds that content,
 * so writeIfChanged compares in memory instead of reading back a config of
 * megabytes before every write; a file replaced or edited by anyone else has
 * another inode, size or mtime and is read again.
 */
interface Written {
  readonly content: string;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}
const written = new Map<string, Written>();

async function remember(path: string, content: string): Promise<void> {
  try {
    const st = await stat(path);
    written.set(path, { content, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
  } catch {
    written.delete(path);
  }
}

/** Whether `path` holds `content`, told from what this process last left there; null when it does not know. */
function knownToHold(path: string, content: string): boolean | null {
  const w = written.get(path);
  if (w === undefined) return null;
  // Other content than last written: it is written either way, no need to look at the file.
  if (w.content !== content) return false;
  try {
    // A stat answers from the inode cache; waiting for a worker thread would cost more than the call.
    const st = statSync(path);
    if (st.ino !== w.ino || st.size !== w.size || st.mtimeMs !== w.mtimeMs) return null;
  } catch {
    return null;
  }
  return true;
}

/** Writes a file next to `path` without replacing it, for checking before it goes live. */
export async function stage(path: string, content: string): Promise<string> {
  const staged = tempPathFor(path);
  await writeSynced(staged, content);
  return staged;
}

/** Makes a staged file live; `content`: what was staged, remembered so the next write to `path` need not read it back. */
export async function promote(staged: string, path: string, content?: string): Promise<void> {
  written.delete(path);
  await rename(staged, path);
  await syncDir(dirname(path));
  if (content !== undefined) await remember(path, content);
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

/**
 * Writes `content` unless the file already holds exactly that; says whether
 * it wrote. A file this process wrote is compared in memory; any other
 * (first write after a start, a file changed behind its back) is read once.
 */
export async function writeIfChanged(path: string, content: string, mode = 0o644, durable = true): Promise<boolean> {
  const known = knownToHold(path, content);
  if (known === true) return false;
  if (known === null && (await readText(path)) === content) {
    await remember(path, content);
    return false;
  }
  await writeAtomic(path, content, mode, durable);
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

async function writeSynced(path: string, content: string, mode = 0o644, durable = true): Promise<void> {
  const handle = await open(path, 'w', mode);
  try {
    await handle.writeFile(content, 'utf8');
    if (durable) await handle.sync();
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
