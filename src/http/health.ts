/** /healthz and /readyz. */
import type { Reconciler, SyncReport } from '../reconcile/reconciler.ts';
import type { Source, SourceStatus } from '../sources/source.ts';
import { json, type Route } from './server.ts';
import { haproxyKnowledge, type HaproxyKnowledge } from './vhosts.ts';

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, one sentence each an operator can act on; empty when ready. */
  readonly reasons: readonly string[];
  readonly sources: readonly SourceStatus[];
  readonly lastApply: SyncReport | null;
  readonly haproxy: HaproxyKnowledge;
  /** The etcd revision of the last state HAProxy was known to run; 0 before the first apply. */
  readonly revision: number;
}

export function readiness(sources: readonly Source<unknown>[], reconciler: Reconciler): Readiness {
  const statuses = sources.map((s) => s.status());
  const reasons: string[] = [];
  for (const st of statuses) {
    if (!st.synced) reasons.push(`source ${st.name} has not synced${st.lastError ? `: ${st.lastError}` : ''}`);
  }
  const unknownSince = reconciler.unknownSince();
  const known = reconciler.lastKnown();
  if (unknownSince !== null) {
    reasons.push(`what HAProxy runs is unknown since ${new Date(unknownSince).toISOString()} (last known: etcd revision ${known?.desired.revision ?? 0}); a checked reload will tell`);
  } else if (!reconciler.applied()) reasons.push('HAProxy has not been applied yet');
  const last = reconciler.lastReport();
  if (last && !last.ok) reasons.push(`last apply failed (${last.code}): ${last.message}; the last good config keeps serving`);
  return { ready: reasons.length === 0, reasons, sources: statuses, lastApply: last, haproxy: haproxyKnowledge(reconciler), revision: known?.desired.revision ?? 0 };
}

export function healthRoutes(sources: readonly Source<unknown>[], reconciler: Reconciler): Route[] {
  return [
    // Answering at all shows the event loop turns; nothing else is needed to say the process is alive.
    { method: 'GET', path: /^\/healthz$/, handler: () => json(200, { status: 'ok' }) },
    {
      method: 'GET',
      path: /^\/readyz$/,
      handler: () => {
        const r = readiness(sources, reconciler);
        return json(r.ready ? 200 : 503, r);
      },
    },
  ];
}
