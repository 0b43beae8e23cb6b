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
  private result: ReadonlyMap<string, ServiceEndpoints> = new Map();

  merge(sources: readonly ServicesSnapshot[]): ReadonlyMap<string, ServiceEndpoints> {
    if (sameList(sources, this.sources)) return this.result;
    const next = new Map<string, Merged>();
    for (const source of sources) {
      for (const ref of Object.keys(source.services)) {
        if (next.has(ref)) continue;
        const parts = sources.map((s) => (Object.hasOwn(s.services, ref) ? s.services[ref] : undefined));
        const was = this.merged.get(ref);
        next.set(ref, was && sameList(parts, was.parts) ? was : { parts, merged: mergeService(parts.filter((p) => p !== undefined)) });
      }
    }
    this.sources = sources;
    this.merged = next;
    this.result = new Map([...next].map(([ref, m]) => [ref, m.merged]));
    return this.result;
  }
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
