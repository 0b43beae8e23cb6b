/**
 * Watches files or a directory with chokidar and calls back on any change.
 * Editors save by rename; chokidar's atomic handling folds that into one
 * change. A watcher error is reported and the watch is rebuilt.
 */
import { watch, type FSWatcher } from 'chokidar';

export interface FileWatch {
  close(): Promise<void>;
}

export function watchPaths(paths: readonly string[], onChange: () => void, onError: (err: unknown) => void): FileWatch {
  let watcher: FSWatcher | null = null;
  let closed = false;
  const open = (): void => {
    watcher = watch([...paths], { ignoreInitial: true, atomic: true, persistent: true });
    watcher.on('all', () => onChange());
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
      await watcher?.close();
    },
  };
}
