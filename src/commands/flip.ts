/** `haproxy-sync flip HOST COLOR`: asks the daemon's API to flip, prints what each node confirmed. */
import { checkReason, MAX_REASON_CHARS } from '../core/ledger.ts';
import { checkColour } from '../core/validate.ts';
import { SyncError } from '../errors.ts';
import type { NodeConfirmation } from '../fleet/flip.ts';
import { DEFAULT_FLIP_TIMEOUT_MS, MAX_FLIP_TIMEOUT_MS } from '../fleet/flip-request.ts';
import { API_FLAG_HELP, apiErrorLine, apiTarget, callApi, type ApiAnswer } from './api-client.ts';
import { CONFIG_FLAGS_HELP, configFromArgs, parseConfigArgs } from './common.ts';

export const FLIP_HELP = `Usage: haproxy-sync flip HOST COLOR [--reason TEXT] [--force] [--no-wait] [options]

Asks the daemon's API to make COLOR the live colour of HOST. The daemon
refuses when COLOR has fewer than health.minReady servers that HAProxy's
health checks report up, or when the vhost changed meanwhile; otherwise it
writes etcd and, unless --no-wait, answers once every live node in the
fleet reports serving the flip, naming each one. The flip ledger
(haproxy-sync history HOST) records it with the reason given.
Exit 0 flipped (and confirmed), 1 refused, unconfirmed or API unreachable,
2 bad flags or config.

Flip options:
  --reason TEXT        why, for the flip ledger (at most ${MAX_REASON_CHARS} printable characters)
  --force              skip the health check of COLOR
  --no-wait            answer once etcd is written, without waiting for the nodes
  --expect COLOR       flip only if COLOR is the live colour now
  --timeout-ms N       how long to wait for every node (default ${DEFAULT_FLIP_TIMEOUT_MS})
${API_FLAG_HELP}`;

interface FlipAnswer {
  readonly host: string;
  readonly from: string;
  readonly to: string;
  readonly revision: number;
  readonly changed?: boolean;
  readonly nodes?: readonly NodeConfirmation[];
  readonly failing?: readonly { name: string; address: string; status: string; check: string }[];
}

export async function flipCommand(argv: readonly string[]): Promise<number> {
  const args = parseConfigArgs(argv, ['force', 'no-wait'], ['api', 'expect', 'timeout-ms', 'reason']);
  if (args.switches.has('help')) {
    process.stdout.write(`${FLIP_HELP}\n\n${CONFIG_FLAGS_HELP}\n`);
    return 0;
  }
  const [host, colour, extra] = args.positional;
  if (host === undefined || colour === undefined || extra !== undefined) throw new SyncError('USAGE', 'flip needs exactly two arguments: HOST COLOR (see --help)');
  const expect = args.flags['expect'];
  for (const [what, value] of [['COLOR', colour], ['--expect', expect]] as const) {
    const problem = value === undefined ? null : checkColour(value);
    if (problem) throw new SyncError('USAGE', `${what}: ${problem}`);
  }
  const reason = args.flags['reason'];
  const reasonProblem = reason === undefined ? null : checkReason(reason);
  if (reasonProblem) throw new SyncError('USAGE', `--reason: ${reasonProblem}`);
  const timeoutMs = timeoutFlag(args.flags['timeout-ms']);
  const wait = !args.switches.has('no-wait');
  const target = apiTarget(configFromArgs(args), args.flags['api']);
  const body = { to: colour, force: args.switches.has('force'), wait, timeoutMs, ...(expect ? { expect } : {}), ...(reason ? { reason } : {}) };
  const answer = await callApi(target, 'POST', `/v1/vhosts/${encodeURIComponent(host)}/flip`, body, timeoutMs + 15000);
  return report(answer, wait);
}

function timeoutFlag(value: string | undefined): number {
  if (value === undefined) return DEFAULT_FLIP_TIMEOUT_MS;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || n > MAX_FLIP_TIMEOUT_MS) throw new SyncError('USAGE', `--timeout-ms: must be a whole number from 1 to ${MAX_FLIP_TIMEOUT_MS}`);
  return n;
}

function report(answer: ApiAnswer, wait: boolean): number {
  if (answer.status === 200) {
    const a = answer.body as FlipAnswer;
    const what = a.changed === false ? `${a.to} was already live` : `${a.from} → ${a.to}`;
    process.stdout.write(`${a.host}: ${what} (etcd revision ${a.revision})\n${nodeLines(a.nodes ?? [], wait)}`);
    return 0;
  }
  process.stderr.write(`flip ${answer.status === 504 ? 'not confirmed' : 'refused'}: ${apiErrorLine(answer)}\n`);
  const detail = (answer.body as { error?: FlipAnswer } | null)?.error;
  for (const s of detail?.failing ?? []) process.stderr.write(`  ${s.name} ${s.address} ${s.status}${s.check ? ` (${s.check})` : ''}\n`);
  if (answer.status === 504) process.stderr.write(nodeLines(detail?.nodes ?? [], true));
  return 1;
}

function nodeLines(nodes: readonly NodeConfirmation[], wait: boolean): string {
  if (!wait) return '  not waiting for the nodes (--no-wait)\n';
  const width = Math.max(0, ...nodes.map((n) => n.node.length));
  return nodes.map((n) => `  ${n.node.padEnd(width)}  ${n.applied ? 'applied' : 'NOT applied'} (at revision ${n.revision})\n`).join('');
}
