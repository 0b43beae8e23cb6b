/** `haproxy-sync status`: the vhosts this node serves, how healthy each colour is, and what every node applied. */
import { SyncError } from '../errors.ts';
import type { VHostsView } from '../http/vhosts.ts';
import { API_FLAG_HELP, apiErrorLine, apiTarget, callApi } from './api-client.ts';
import { CONFIG_FLAGS_HELP, configFromArgs, parseConfigArgs } from './common.ts';

export const STATUS_HELP = `Usage: haproxy-sync status [options]

Asks the daemon's API for its view and prints a table: each vhost, its live
colour, per colour the servers HAProxy reports up out of the ready
endpoints (and how many it has not checked yet since a reload), and the
colour each node in the fleet serves; then each node's applied etcd revision. Exit 0 when the API answered, 1 otherwise.

Status options:
${API_FLAG_HELP}`;

export async function statusCommand(argv: readonly string[]): Promise<number> {
  const args = parseConfigArgs(argv, [], ['api']);
  if (args.switches.has('help')) {
    process.stdout.write(`${STATUS_HELP}\n\n${CONFIG_FLAGS_HELP}\n`);
    return 0;
  }
  if (args.positional.length > 0) throw new SyncError('USAGE', `unexpected argument "${args.positional[0]}" (see --help)`);
  const answer = await callApi(apiTarget(configFromArgs(args), args.flags['api']), 'GET', '/v1/vhosts', undefined, 15000);
  if (answer.status !== 200) {
    process.stderr.write(`status: ${apiErrorLine(answer)}\n`);
    return 1;
  }
  process.stdout.write(formatStatus(answer.body as VHostsView));
  return 0;
}

export function formatStatus(view: VHostsView): string {
  const nodes = view.nodes.map((n) => n.node);
  const vhostRows = view.vhosts.map((v) => [
    v.host,
    v.active === null ? '-' : v.lastGood ? `${v.active} (last good since ${v.lastGood.since})` : v.active,
    v.backends.map(colourCell).join('  ') || '-',
    ...nodes.map((node) => v.nodes.find((n) => n.node === node)?.active ?? '-'),
  ]);
  const nodeRows = view.nodes.map((n) => [n.node === view.node ? `${n.node} (this node)` : n.node, String(n.revision), n.configHash ?? '-', n.appliedAt ?? 'never']);
  const problems = [...view.vhosts.flatMap((v) => v.problems), ...view.problems].map((p) => `  ${p.code} ${p.source}: ${p.message}`);
  return [
    view.vhosts.length === 0 ? 'no vhosts\n' : columns([['VHOST', 'LIVE', 'UP/READY PER COLOUR', ...nodes], ...vhostRows]),
    '\n',
    nodeRows.length === 0 ? 'no live nodes in etcd\n' : columns([['NODE', 'REVISION', 'CONFIG', 'APPLIED AT'], ...nodeRows]),
    view.haproxy?.known === false ? `\nwhat HAProxy runs is unknown since ${view.haproxy.unknownSince}; shown: the last known state\n` : '',
    problems.length > 0 ? `\nproblems:\n${problems.join('\n')}\n` : '',
    view.errors.length > 0 ? `\nincomplete answer:\n${view.errors.map((e) => `  ${e}`).join('\n')}\n` : '',
  ].join('');
}

/** "green 1/2", and how many of the rest HAProxy has not checked yet (right after a reload). */
function colourCell(b: VHostsView['vhosts'][number]['backends'][number]): string {
  const unchecked = b.servers.filter((s) => s.pending).length;
  return `${b.colour} ${b.up}/${b.ready}${unchecked > 0 ? ` (${unchecked} unchecked)` : ''}`;
}

/** Left-aligned columns, two spaces apart. */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}
