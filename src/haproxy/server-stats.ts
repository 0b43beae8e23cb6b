/**
 * HAProxy's own view of its servers (`show stat`), in the shape the core's
 * health functions take.
 *
 * At 280,000 server slots the answer runs to tens of megabytes, and it is
 * read every few seconds. So it is never held whole nor parsed in one go:
 * only server rows are asked for, each chunk is parsed as it arrives (one
 * chunk per turn of the event loop), only the four columns used are taken
 * out of a row, and an entry equal to the one read before is kept, so an
 * unchanged read allocates next to nothing and says so (`version`).
 */
import { statKey, type ServerStats, type StatEntry } from '../core/health.ts';
import { errorMessage } from '../errors.ts';
import { HaproxyError } from './errors.ts';
import { splitCsv } from './runtime.ts';
import { exchange } from './socket.ts';

export interface StatsRead {
  readonly stats: ServerStats;
  /** Why HAProxy could not be asked; every server then counts as not up. */
  readonly error: string | null;
  /** Changes only when the stats do: equal versions, equal stats. */
  readonly version: number;
}

export interface ReadOptions {
  /** A read at most this old (ms) will do; by default the read is fresh. */
  readonly maxAgeMs?: number;
}

export type ReadServerStats = (opts?: ReadOptions) => Promise<StatsRead>;

export interface ServerStatsOptions {
  readonly socket: string;
  readonly timeoutMs: number;
  /** Called once per read: ok when HAProxy answered with stats; for metrics. */
  readonly onCommand?: (ok: boolean) => void;
  readonly now?: () => number;
}

// Proxy id -1 (all), type 4 (servers only), server id -1 (all): frontends and
// backends are not needed, and the filter exists in every supported version.
const COMMAND = 'show stat -1 4 -1';
const HEADER = '# pxname,svname,';
const SERVER_TYPE = '2';
/** Of an answer that is not stats, what is kept to show in the error. */
const SHOWN_ANSWER = 1000;

/**
 * Reads the servers' stats. Reads asked for while one is on its way share
 * it; `maxAgeMs` accepts the last one when it is young enough.
 */
export function serverStatsReader(opts: ServerStatsOptions): ReadServerStats {
  const now = opts.now ?? Date.now;
  let last: { read: StatsRead; at: number } | null = null;
  let inFlight: Promise<StatsRead> | null = null;
  let version = 0;
  const readOnce = async (): Promise<StatsRead> => {
    const previous = last?.read.error === null ? last.read.stats : new Map<string, StatEntry>();
    try {
      const { stats, changed } = await streamStats(opts, previous);
      opts.onCommand?.(true);
      if (changed || last?.read.error !== null) version++;
      return { stats, error: null, version };
    } catch (err) {
      opts.onCommand?.(false);
      version++;
      return { stats: new Map(), error: `HAProxy admin socket ${opts.socket}: ${errorMessage(err)}`, version };
    }
  };
  return async (readOpts = {}) => {
    if (last && readOpts.maxAgeMs !== undefined && now() - last.at <= readOpts.maxAgeMs) return last.read;
    inFlight ??= readOnce().then((read) => {
      last = { read, at: now() };
      inFlight = null;
      return read;
    });
    return inFlight;
  };
}

async function streamStats(opts: ServerStatsOptions, previous: ServerStats): Promise<{ stats: ServerStats; changed: boolean }> {
  const parser = new StatParser(previous);
  await exchange(opts.socket, `${COMMAND}\n`, { timeoutMs: opts.timeoutMs, onChunk: (chunk) => parser.feed(chunk) });
  return parser.end(opts.socket);
}

/** Columns taken out of each row, by their index in the header. */
interface Columns {
  readonly pxname: number;
  readonly svname: number;
  readonly status: number;
  readonly check: number;
  readonly type: number;
  /** For each index up to the largest of the above, whether it is one of them: a row is scanned that far and no further. */
  readonly wanted: readonly boolean[];
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const QUOTE = 0x22;

/**
 * Parses the answer line by line as it arrives, on bytes: the few fields
 * used become strings of their own, so the entries kept never hold on to
 * the chunk they came from. An answer without the stats header is kept (its
 * start) for the error.
 */
export class StatParser {
  readonly #previous: ServerStats;
  readonly #stats = new Map<string, StatEntry>();
  #columns: Columns | null = null;
  #rest: Buffer | null = null;
  #notStats: string | null = null;
  #reused = 0;

  constructor(previous: ServerStats = new Map()) {
    this.#previous = previous;
  }

  feed(chunk: Buffer): void {
    if (this.#notStats !== null) {
      if (this.#notStats.length < SHOWN_ANSWER) this.#notStats += chunk.toString('utf8', 0, SHOWN_ANSWER);
      return;
    }
    const buf = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    let start = 0;
    let quote = buf.indexOf(QUOTE);
    for (let end = buf.indexOf(NEWLINE); end >= 0; end = buf.indexOf(NEWLINE, start)) {
      if (quote >= 0 && quote < start) quote = buf.indexOf(QUOTE, start);
      if (!this.#line(buf, start, end, quote >= 0 && quote < end)) {
        this.#notStats = buf.toString('utf8', start, start + SHOWN_ANSWER);
        return;
      }
      start = end + 1;
    }
    // A copy: a slice would keep the whole chunk alive.
    this.#rest = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
  }

  /** The stats, and whether they differ from the previous ones; a failure carrying the answer when it was not stats. */
  end(socket: string): { stats: ServerStats; changed: boolean } {
    if (this.#rest && this.#notStats === null && !this.#line(this.#rest, 0, this.#rest.length, this.#rest.includes(QUOTE))) {
      this.#notStats = this.#rest.toString('utf8', 0, SHOWN_ANSWER);
    }
    this.#rest = null;
    if (this.#columns === null) {
      const answer = (this.#notStats ?? '').trim();
      const shown = answer === '' ? '(empty answer)' : answer.split('\n').slice(0, 3).join(' | ');
      throw new HaproxyError('HAPROXY_COMMAND_FAILED', `HAProxy (${socket}) rejected "${COMMAND}": ${shown}`, { socket, command: COMMAND, answer });
    }
    const changed = this.#reused !== this.#stats.size || this.#stats.size !== this.#previous.size;
    return { stats: this.#stats, changed };
  }

  /** False when the answer turns out not to be stats. */
  #line(buf: Buffer, start: number, end: number, quoted: boolean): boolean {
    if (this.#columns === null) return this.#header(buf.toString('utf8', start, end));
    if (end === start) return true;
    const c = this.#columns;
    const values = quoted ? splitCsv(buf.toString('utf8', start, end)) : leadingFields(buf, start, end, c.wanted);
    if (values[c.type] !== SERVER_TYPE) return true;
    const key = statKey(values[c.pxname] ?? '', values[c.svname] ?? '');
    const status = values[c.status] ?? '';
    const check = values[c.check] ?? '';
    const before = this.#previous.get(key);
    if (before !== undefined && before.status === status && before.check === check) {
      this.#stats.set(key, before);
      this.#reused++;
    } else this.#stats.set(key, { status, check });
    return true;
  }

  #header(line: string): boolean {
    const names = line.startsWith(HEADER) ? splitCsv(line.slice(2)) : [];
    const at = (name: string): number => names.indexOf(name);
    const columns = { pxname: at('pxname'), svname: at('svname'), status: at('status'), check: at('check_status'), type: at('type') };
    if (Object.values(columns).some((i) => i < 0)) return false;
    const indexes = Object.values(columns);
    this.#columns = { ...columns, wanted: Array.from({ length: Math.max(...indexes) + 1 }, (_, i) => indexes.includes(i)) };
    return true;
  }
}

/** The fields of an unquoted CSV line up to the last one wanted; only the wanted ones are decoded ('' for the others). */
function leadingFields(buf: Buffer, start: number, end: number, wanted: readonly boolean[]): string[] {
  const fields: string[] = [];
  let from = start;
  while (fields.length < wanted.length) {
    let comma = buf.indexOf(COMMA, from);
    if (comma < 0 || comma > end) comma = end;
    fields.push(wanted[fields.length] ? buf.toString('utf8', from, comma) : '');
    if (comma === end) break;
    from = comma + 1;
  }
  return fields;
}
