/** GET /v1/vhosts/{host}/history: the flip ledger of one vhost, newest first. */
import { entryView, LEDGER_KEEP, type LedgerEntryView } from '../core/ledger.ts';
import { checkHost } from '../core/validate.ts';
import { errorMessage } from '../errors.ts';
import type { LedgerStore } from '../fleet/ledger-store.ts';
import { authorized } from './auth.ts';
import { apiError, json, type Route } from './server.ts';

export interface HistoryAnswer {
  readonly host: string;
  readonly entries: readonly LedgerEntryView[];
  /** Entries under the host's prefix that do not parse, by key. */
  readonly unreadable: readonly string[];
}

export function historyRoutes(token: string | null, store: Pick<LedgerStore, 'list'>, now: () => number = Date.now): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/v1\/vhosts\/([^/]+)\/history$/,
      handler: authorized(token, async (req, [raw = '']) => {
        const host = raw.toLowerCase();
        const problem = checkHost(host);
        if (problem) return apiError(404, 'NOT_FOUND', `no such vhost: ${problem}`);
        const limit = limitOf(new URL(req.url ?? '/', 'http://localhost').searchParams.get('limit'));
        if (typeof limit === 'string') return apiError(400, 'BAD_REQUEST', limit);
        let read;
        try {
          read = await store.list(host, limit);
        } catch (err) {
          return apiError(503, 'SOURCE_ERROR', `cannot read the flip ledger from etcd: ${errorMessage(err)}`);
        }
        const at = now();
        const answer: HistoryAnswer = { host, entries: read.entries.map((e) => entryView(e, at)), unreadable: read.unreadable };
        return json(200, answer);
      }),
    },
  ];
}

function limitOf(value: string | null): number | string {
  if (value === null) return LEDGER_KEEP;
  const n = Number(value);
  return /^[0-9]+$/.test(value) && n >= 1 && n <= LEDGER_KEEP ? n : `limit: must be a whole number from 1 to ${LEDGER_KEEP}`;
}
