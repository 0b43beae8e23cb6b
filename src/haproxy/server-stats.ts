/** HAProxy's own view of its servers (`show stat`), in the shape the core's health functions take. */
import { statKey, type ServerStats } from '../core/health.ts';
import { errorMessage } from '../errors.ts';
import type { RuntimeClient } from './runtime.ts';

export interface StatsRead {
  readonly stats: ServerStats;
  /** Why HAProxy could not be asked; every server then counts as not up. */
  readonly error: string | null;
}

export type ReadServerStats = () => Promise<StatsRead>;

export function serverStatsReader(runtime: Pick<RuntimeClient, 'showStat' | 'socket'>): ReadServerStats {
  return async () => {
    try {
      const rows = await runtime.showStat();
      const stats = new Map<string, { status: string; check: string }>();
      for (const row of rows) {
        if (row.type === 'server') stats.set(statKey(row.pxname, row.svname), { status: row.status, check: row.checkStatus });
      }
      return { stats, error: null };
    } catch (err) {
      return { stats: new Map(), error: `HAProxy admin socket ${runtime.socket}: ${errorMessage(err)}` };
    }
  };
}
