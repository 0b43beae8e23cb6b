/** A template directory overriding the bundled backend.eta, which a test can break with a line HAProxy rejects, and mend. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir, type Teardown } from './tmp.ts';

export interface BackendTemplate {
  /** The directory to put in the daemon config's `templates:`. */
  readonly dir: string;
  /** Appends a line no HAProxy accepts; `haproxy -c` names it. */
  break(): void;
  mend(): void;
}

export const REJECTED_LINE = 'this-is-not-a-keyword';

export function backendTemplate(t: Teardown): BackendTemplate {
  const dir = tmpDir(t);
  const good = readFileSync(new URL('../../templates/backend.eta', import.meta.url), 'utf8');
  const file = join(dir, 'backend.eta');
  writeFileSync(file, good);
  return {
    dir,
    break: () => writeFileSync(file, `${good}    ${REJECTED_LINE}\n`),
    mend: () => writeFileSync(file, good),
  };
}
