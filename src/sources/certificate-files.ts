/**
 * Certificate files: every file of `tls.dir` (a PEM holding the certificate,
 * its chain and its key), watched. A vhost names one by its bare file name.
 * A file that does not parse stays in the snapshot with its problem, so the
 * vhost naming it reports why and keeps its last good certificate.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CertificateEntry, CertificatesSnapshot } from '../core/model.ts';
import { checkCertificateFileName } from '../core/validate.ts';
import { errorMessage } from '../errors.ts';
import { CertificateCache } from './certificate-cache.ts';
import { watchAndRead, type FileWatch } from './file-watch.ts';
import { SourceHealth, type Source, type SourceStatus } from './source.ts';

/** Bounds what one directory can make the daemon read. */
const MAX_FILE_BYTES = 1024 * 1024;

export class CertificateFilesSource implements Source<CertificatesSnapshot> {
  readonly name = 'certificate-files';
  private readonly dir: string;
  private readonly log: Logger;
  private readonly health = new SourceHealth('certificate-files');
  private readonly cache = new CertificateCache();
  private current: CertificatesSnapshot | null = null;
  private watcher: FileWatch | null = null;
  /** Size and mtime of each file as last read: unchanged files are not read again. */
  private seen = new Map<string, { size: number; mtimeMs: number; entry: CertificateEntry }>();

  constructor(dir: string, log: Logger) {
    this.dir = dir;
    this.log = log;
  }

  start(onChange: () => void): void {
    this.watcher = watchAndRead([this.dir], () => this.read(), onChange, (err) => this.failed(`watching failed: ${errorMessage(err)}`));
  }

  snapshot(): CertificatesSnapshot | null {
    return this.current;
  }

  status(): SourceStatus {
    return this.health.status();
  }

  async stop(): Promise<void> {
    await this.watcher?.close();
  }

  /** Says whether the snapshot changed. */
  private async read(): Promise<boolean> {
    let names: string[];
    try {
      names = (await readdir(this.dir, { withFileTypes: true })).filter((d) => d.isFile() && checkCertificateFileName(d.name) === null).map((d) => d.name).sort();
    } catch (err) {
      // Without the directory, no file certificate exists; vhosts naming one say so.
      this.failed(`cannot read certificates directory ${this.dir} (${errorMessage(err)})`);
      return this.publish({});
    }
    const certificates: Record<string, CertificateEntry> = {};
    const seen = new Map<string, { size: number; mtimeMs: number; entry: CertificateEntry }>();
    for (const name of names) {
      const path = join(this.dir, name);
      let text: string;
      let info: { size: number; mtimeMs: number };
      try {
        info = await stat(path);
        const last = this.seen.get(name);
        if (last && last.size === info.size && last.mtimeMs === info.mtimeMs) {
          certificates[`file:${name}`] = last.entry;
          seen.set(name, last);
          continue;
        }
        text = await readFile(path, 'utf8');
      } catch (err) {
        // Gone between readdir and read: the next event reads the directory again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        certificates[`file:${name}`] = { source: `certificate file ${path}`, parsed: null, problem: `cannot read it (${errorMessage(err)})` };
        continue;
      }
      const entry: CertificateEntry = text.length > MAX_FILE_BYTES
        ? { source: `certificate file ${path}`, parsed: null, problem: `larger than ${MAX_FILE_BYTES} bytes` }
        : this.cache.entry(`file:${name}`, `certificate file ${path}`, [text]);
      certificates[`file:${name}`] = entry;
      seen.set(name, { size: info.size, mtimeMs: info.mtimeMs, entry });
    }
    // Entries reused by stat were not asked of the cache: keep them in it.
    for (const name of seen.keys()) this.cache.touch(`file:${name}`);
    this.cache.sweep();
    this.seen = seen;
    this.health.event();
    return this.publish(certificates);
  }

  private publish(certificates: Record<string, CertificateEntry>): boolean {
    const before = this.current?.certificates;
    this.health.synced = true;
    if (before && sameEntries(before, certificates)) return false;
    this.current = { certificates, secretNamespaces: null, fileDir: this.dir };
    return true;
  }

  private failed(message: string): void {
    if (this.health.lastError === message) return;
    this.health.failed(message);
    this.log.error({ source: this.name, code: 'SOURCE_ERROR', err: message }, 'certificate files unavailable');
  }
}

function sameEntries(a: Readonly<Record<string, CertificateEntry>>, b: Readonly<Record<string, CertificateEntry>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
