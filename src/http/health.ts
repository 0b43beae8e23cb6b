/** /healthz and /readyz. */
import type { Reconciler } from '../reconcile/reconciler.ts';
import type { Source } from '../sources/source.ts';
import { json, type Route } from './server.ts';

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

export function readiness(sources: readonly Source<unknown>[], reconciler: Reconciler): Readiness {
  const reasons: string[] = [];
  for (const s of sources) {
    const st = s.status();
    if (!st.synced) reasons.push(`source ${s.name} has not synced${st.lastError ? `: ${st.lastError}` : ''}`);
  }
  if (!reconciler.applied()) reasons.push('HAProxy has not been applied yet');
  const last = reconciler.lastReport();
  if (last && !last.ok) reasons.push(`last apply failed (${last.code}): ${last.message}`);
  return { ready: reasons.length === 0, reasons };
}

export function healthRoutes(sources: readonly Source<unknown>[], reconciler: Reconciler): Route[] {
  return [
    { method: 'GET', path: /^\/healthz$/, handler: () => json(200, { status: 'ok' }) },
    {
      method: 'GET',
      path: /^\/readyz$/,
      handler: () => {
        const r = readiness(sources, reconciler);
        return json(r.ready ? 200 : 503, { ready: r.ready, reasons: r.reasons });
      },
    },
  ];
}
