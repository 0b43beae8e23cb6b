/**
 * Watches files or a directory with chokidar and calls back on any change.
 * Editors save by rename; chokidar's atomic handling folds that into one
 * change. A watcher error is reported and the watch is rebuilt.
 *
 * chokidar drops a change event that follows another on the same path within
 * 50 ms, so two quick writes would leave the second unseen; every event
 * therefore also schedules one trailing callback after that window.
 */
import { watch, type FSWatcher } from 'chokidar';

export interface FileWatch {
  close(): Promise<void>;
}

const TRAILING_MS = 150;

export function watchPaths(paths: readonly string[], onChange: () => void, onError: (err: unknown) => void): FileWatch {
  let watcher: FSWatcher | null = null;
  let closed = false;
  let trailing: NodeJS.Timeout | null = null;
  const changed = (): void => {
    onChange();
    if (trailing) clearTimeout(trailing);
    trailing = setTimeout(() => {
      trailing = null;
      if (!closed) onChange();
    }, TRAILING_MS);
  };
  const open = (): void => {
    watcher = watch([...paths], { ignoreInitial: true, atomic: true, persistent: true });
    watcher.on('all', changed);
    watcher.on('error', (err) => {
      onError(err);
      void reopen();
    });
  };
  const reopen = async (): Promise<void> => {
    await watcher?.close().catch(() => {});
    if (!closed) open();
  };
  open();
  return {
    async close() {
      closed = true;
      if (trailing) clearTimeout(trailing);
      await watcher?.close();
    },
  };
}

/**
 * Reads once now and again after every change, one read at a time, calling
 * `onChange` after each read that says something changed (events also come
 * for writes of identical content, and from the trailing re-check); close()
 * stops watching and waits for a read in flight.
 */
export function watchAndRead(paths: readonly string[], read: () => Promise<boolean>, onChange: () => void, onError: (err: unknown) => void): FileWatch {
  let reading: Promise<void> = Promise.resolve();
  const reread = (): void => {
    reading = reading.then(read).then((changed) => {
      if (changed) onChange();
    });
  };
  const watcher = watchPaths(paths, reread, onError);
  reread();
  return {
    async close() {
      await watcher.close();
      await reading;
    },
  };
}
