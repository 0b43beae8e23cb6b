/**
 * The last good versions per vhost on disk, in the state directory, so they
 * survive a daemon restart. Written atomically (temporary file, fsync,
 * rename); read back through the same checks as anything from outside.
 */
import { join } from 'node:path';
import { formatLastGood, LAST_GOOD_FILE, parseLastGood } from '../core/state-file.ts';
import type { LastGoodRecords, Problem } from '../core/model.ts';
import { SyncError, errorMessage } from '../errors.ts';
import { ensureDir, readText, sweepStaged, writeAtomic } from '../haproxy/files.ts';

export interface LastGoodStore {
  load(): Promise<{ records: LastGoodRecords; problems: Problem[] }>;
  /** Throws a STATE_UNWRITABLE SyncError. */
  save(records: LastGoodRecords): Promise<void>;
}

export function lastGoodStore(dir: string): LastGoodStore {
  const path = join(dir, LAST_GOOD_FILE);
  return {
    async load() {
      let text: string | null;
      try {
        await sweepStaged(path);
        text = await readText(path);
      } catch (err) {
        return { records: {}, problems: [{ code: 'STATE_INVALID', source: `state file ${path}`, message: `cannot read it: ${errorMessage(err)}` }] };
      }
      return text === null ? { records: {}, problems: [] } : parseLastGood(text, path);
    },
    async save(records) {
      try {
        await ensureDir(dir);
        await writeAtomic(path, formatLastGood(records));
      } catch (err) {
        throw new SyncError('STATE_UNWRITABLE', `cannot write ${path}: ${errorMessage(err)}`);
      }
    },
  };
}
