/**
 * Parses each certificate content once: sources re-read whole directories
 * and relist whole namespaces, and most certificates in them are unchanged.
 */
import type { CertificateEntry } from '../core/model.ts';
import { parseCertificate } from './certificate-pem.ts';

export class CertificateCache {
  private entries = new Map<string, { texts: readonly string[]; entry: CertificateEntry }>();
  private seen = new Set<string>();

  /** The entry for `key`; parsed again only when its source or texts changed. */
  entry(key: string, source: string, texts: readonly string[]): CertificateEntry {
    this.seen.add(key);
    const cached = this.entries.get(key);
    if (cached && cached.entry.source === source && sameTexts(cached.texts, texts)) return cached.entry;
    const parsed = parseCertificate(...texts);
    const entry: CertificateEntry = typeof parsed === 'string' ? { source, parsed: null, problem: parsed } : { source, parsed, problem: null };
    this.entries.set(key, { texts, entry });
    return entry;
  }

  /** Keeps `key` through the next sweep without asking for it. */
  touch(key: string): void {
    this.seen.add(key);
  }

  /** Forgets every key not asked for since the last sweep. */
  sweep(): void {
    for (const key of this.entries.keys()) if (!this.seen.has(key)) this.entries.delete(key);
    this.seen = new Set();
  }
}

function sameTexts(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
