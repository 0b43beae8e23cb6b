/**
 * mergeServices, remembered: a Service whose objects in every source are the
 * ones of the last merge keeps its merged object, so the vhosts naming it
 * can tell at a glance that their endpoints did not change. Sources keep the
 * objects of Services that did not change from one snapshot to the next.
 */
import { mergeService } from './desired.ts';
import type { ServiceEndpoints, ServicesSnapshot } from './model.ts';

interface Merged {
  /** The Service's object in each source, in source order (undefined where a source does not know it). */
  readonly parts: readonly (ServiceEndpoints | undefined)[];
  readonly merged: ServiceEndpoints;
}

export class ServiceMerger {
  private sources: readonly ServicesSnapshot[] = [];
  private merged = new Map<string, Merged>();
  /** Updated in place: most Services keep their entry from one merge to the next. */
  private readonly result = new Map<string, ServiceEndpoints>();

  merge(sources: readonly ServicesSnapshot[]): ReadonlyMap<string, ServiceEndpoints> {
    if (sameList(sources, this.sources)) return this.result;
    const seen = new Set<string>();
    for (const source of sources) {
      for (const ref of Object.keys(source.services)) {
        if (seen.has(ref)) continue;
        seen.add(ref);
        this.update(ref, sources);
      }
    }
    if (seen.size !== this.merged.size) {
      for (const ref of this.merged.keys()) {
        if (seen.has(ref)) continue;
        this.merged.delete(ref);
        this.result.delete(ref);
      }
    }
    this.sources = sources;
    return this.result;
  }

  private update(ref: string, sources: readonly ServicesSnapshot[]): void {
    const was = this.merged.get(ref);
    if (was && was.parts.length === sources.length && sources.every((s, i) => partOf(s, ref) === was.parts[i])) return;
    const parts = sources.map((s) => partOf(s, ref));
    const merged = mergeService(parts.filter((p) => p !== undefined));
    this.merged.set(ref, { parts, merged });
    this.result.set(ref, merged);
  }
}

function partOf(source: ServicesSnapshot, ref: string): ServiceEndpoints | undefined {
  return Object.hasOwn(source.services, ref) ? source.services[ref] : undefined;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
