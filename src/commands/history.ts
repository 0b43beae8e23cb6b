/** `haproxy-sync history HOST`: the flip ledger of a vhost, newest first, through the daemon's API. */
import { LEDGER_KEEP, type LedgerEntryView, type NodeConfirmationView } from '../core/ledger.ts';
import { SyncError } from '../errors.ts';
import type { HistoryAnswer } from '../http/history.ts';
import { API_FLAG_HELP, apiErrorLine, apiTarget, callApi } from './api-client.ts';
import { CONFIG_FLAGS_HELP, configFromArgs, parseConfigArgs } from './common.ts';
import { columns } from './status.ts';

export const HISTORY_HELP = `Usage: haproxy-sync history HOST [--limit N] [options]

Prints the flip ledger of HOST, newest first: when each change of its live
colour happened, from and to which colour, the etcd revision, how it was
made (api: through the flip API or command, etcd: a plain etcd write), the
reason given, whether the health gate was forced, and when each load
balancer served it (or that it did not within the flip's timeout).
Exit 0 when the API answered, 1 otherwise.

History options:
  --limit N            show the newest N entries (1 to ${LEDGER_KEEP}, default all)
${API_FLAG_HELP}`;

export async function historyCommand(argv: readonly string[]): Promise<number> {
  const args = parseConfigArgs(argv, [], ['api', 'limit']);
  if (args.switches.has('help')) {
    process.stdout.write(`${HISTORY_HELP}\n\n${CONFIG_FLAGS_HELP}\n`);
    return 0;
  }
  const [host, extra] = args.positional;
  if (host === undefined || extra !== undefined) throw new SyncError('USAGE', 'history needs exactly one argument: HOST (see --help)');
  const limit = args.flags['limit'];
  if (limit !== undefined && !(/^[0-9]+$/.test(limit) && Number(limit) >= 1 && Number(limit) <= LEDGER_KEEP)) {
    throw new SyncError('USAGE', `--limit: must be a whole number from 1 to ${LEDGER_KEEP}`);
  }
  const path = `/v1/vhosts/${encodeURIComponent(host)}/history${limit ? `?limit=${limit}` : ''}`;
  const answer = await callApi(apiTarget(configFromArgs(args), args.flags['api']), 'GET', path, undefined, 15000);
  if (answer.status !== 200) {
    process.stderr.write(`history: ${apiErrorLine(answer)}\n`);
    return 1;
  }
  process.stdout.write(formatHistory(answer.body as HistoryAnswer));
  return 0;
}

export function formatHistory(answer: HistoryAnswer): string {
  const unreadable = answer.unreadable.map((u) => `  unreadable entry: ${u}\n`).join('');
  if (answer.entries.length === 0) return `${answer.host}: no flips recorded\n${unreadable}`;
  const rows = answer.entries.map((e) => [e.at, `${e.from} → ${e.to}`, String(e.revision), how(e), nodesCell(e), e.reason ?? '-']);
  return columns([['AT', 'FLIP', 'REVISION', 'HOW', 'LOAD BALANCERS', 'REASON'], ...rows]) + unreadable;
}

function how(e: LedgerEntryView): string {
  return `${e.source}${e.forced ? ' (forced)' : ''}${e.actor ? ` ${e.actor}` : ''}`;
}

function nodesCell(e: LedgerEntryView): string {
  return e.nodes.map((n) => `${n.node} ${served(n, e)}`).join(', ') || '-';
}

/** "+0.21s", or why not: how long after the flip each node served it. */
function served(n: NodeConfirmationView, e: LedgerEntryView): string {
  if (n.servedAt === null) return n.state === 'waiting' ? 'waiting' : `NOT within ${e.timeoutMs} ms`;
  const after = `+${Math.max(0, (Date.parse(n.servedAt) - Date.parse(e.at)) / 1000).toFixed(2)}s`;
  return n.state === 'late' ? `${after} (late)` : after;
}
