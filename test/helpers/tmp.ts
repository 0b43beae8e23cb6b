import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * A fresh folder under the system temp dir, removed at teardown. Not tap's
 * t.testdir(): its paths (.tap/fixtures/<full test name>) overflow the
 * 107-byte limit of UNIX socket paths that HAProxy sockets live under.
 */
export function tmpDir(t: Teardown, prefix = 'hs-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
