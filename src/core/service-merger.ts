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
  /** The last merge that saw the Service. */
  seen: number;
}

export class ServiceMerger {
  private sources: readonly ServicesSnapshot[] = [];
  private readonly merged = new Map<string, Merged>();
  /** Updated in place: most Services keep their entry from one merge to the next. */
  private readonly result = new Map<string, ServiceEndpoints>();
  private generation = 0;

  merge(sources: readonly ServicesSnapshot[]): ReadonlyMap<string, ServiceEndpoints> {
    if (sameList(sources, this.sources)) return this.result;
    const generation = ++this.generation;
    let seen = 0;
    for (const source of sources) {
      for (const ref in source.services) {
        if (!Object.hasOwn(source.services, ref)) continue;
        const was = this.merged.get(ref);
        if (was?.seen === generation) continue;
        seen++;
        if (was && sameParts(was.parts, sources, ref)) was.seen = generation;
        else this.update(ref, sources, generation);
      }
    }
    if (seen !== this.merged.size) {
      for (const [ref, m] of this.merged) {
        if (m.seen === generation) continue;
        this.merged.delete(ref);
        this.result.delete(ref);
      }
    }
    this.sources = sources;
    return this.result;
  }

  private update(ref: string, sources: readonly ServicesSnapshot[], generation: number): void {
    const parts = sources.map((s) => partOf(s, ref));
    const merged = mergeService(parts.filter((p) => p !== undefined));
    this.merged.set(ref, { parts, merged, seen: generation });
    this.result.set(ref, merged);
  }
}

function sameParts(parts: readonly (ServiceEndpoints | undefined)[], sources: readonly ServicesSnapshot[], ref: string): boolean {
  if (parts.length !== sources.length) return false;
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i];
    if (!source || partOf(source, ref) !== parts[i]) return false;
  }
  return true;
}

function partOf(source: ServicesSnapshot, ref: string): ServiceEndpoints | undefined {
  return Object.hasOwn(source.services, ref) ? source.services[ref] : undefined;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
