/**
 * Template source: the bundled templates/ directory, overlaid by the
 * directory named in the config (so an operator can replace just
 * backend.eta). Re-read on any change; whether they compile and render is
 * the reconciler's concern, which keeps the last good config on failure.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { TemplatesSnapshot } from '../core/model.ts';
import { sameTexts } from '../core/plan.ts';
import { errorMessage } from '../errors.ts';
import { watchAndRead, type FileWatch } from './file-watch.ts';
import { SourceHealth, type Source, type SourceStatus } from './source.ts';

export const BUNDLED_TEMPLATES = fileURLToPath(new URL('../../templates', import.meta.url));

export class TemplatesSource implements Source<TemplatesSnapshot> {
  readonly name = 'templates';
  private readonly dirs: readonly string[];
  private readonly log: Logger;
  private readonly health: SourceHealth;
  private current: TemplatesSnapshot | null = null;
  private watcher: FileWatch | null = null;

  constructor(overrideDir: string | null, log: Logger) {
    this.health = new SourceHealth('templates', log);
    this.dirs = overrideDir ? [BUNDLED_TEMPLATES, overrideDir] : [BUNDLED_TEMPLATES];
    this.log = log;
  }

  start(onChange: () => void): void {
    this.watcher = watchAndRead(this.dirs, () => this.read(), onChange, (err) => this.health.failed(errorMessage(err)));
  }

  snapshot(): TemplatesSnapshot | null {
    return this.current;
  }

  status(): SourceStatus {
    return this.health.status();
  }

  async stop(): Promise<void> {
    await this.watcher?.close();
  }

  /** Says whether the templates changed; unchanged ones keep their snapshot, and so their compiled form. */
  private async read(): Promise<boolean> {
    try {
      const next = await readTemplates(this.dirs);
      this.health.synced = true;
      this.health.event();
      if (this.current && sameTexts(this.current.files, next.files)) return false;
      this.current = next;
      return true;
    } catch (err) {
      this.health.failed(errorMessage(err));
      this.log.error({ source: 'templates', code: 'TEMPLATE_INVALID', err: errorMessage(err) }, 'cannot read templates; keeping the last ones');
      return false;
    }
  }
}

export async function readTemplates(dirs: readonly string[]): Promise<TemplatesSnapshot> {
  const files: Record<string, string> = {};
  for (const dir of dirs) {
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.eta')).sort()) {
      files[name] = await readFile(`${dir}/${name}`, 'utf8');
    }
  }
  return { dir: dirs[dirs.length - 1] ?? BUNDLED_TEMPLATES, files };
}
