import net from 'node:net';
import { setImmediate } from 'node:timers/promises';
import { HaproxyError } from './errors.ts';
import { exchange } from './socket.ts';

export interface RuntimeClientOptions {
  /** Admin socket: a UNIX socket path, or host:port. */
  socket: string;
  timeoutMs?: number;
  /** Called before each retry of a refused connection (e.g. while HAProxy reloads); for logs and metrics. */
  onRetry?: (reason: string, attempt: number) => void;
  /** Called once per command: ok when HAProxy answered and (for the typed methods) accepted it; for metrics. */
  onCommand?: (ok: boolean) => void;
}

export type ServerAdminState = 'ready' | 'maint' | 'drain';
export type ServerOpState = 'stopped' | 'starting' | 'running' | 'stopping';
export type CheckResult = 'unknown' | 'neutral' | 'failed' | 'passed' | 'condpass';

export interface ServerState {
  backendId: number;
  backend: string;
  id: number;
  name: string;
  addr: string;
  port: number;
  opState: ServerOpState;
  /** Effective administrative state, derived from the flags as HAProxy itself does. */
  adminState: ServerAdminState;
  /** Raw srv_admin_state bits (0x01 forced maint, 0x04 "disabled" in the config, 0x08 forced drain, ...). */
  adminFlags: number;
  /** Declared `disabled` in the config; stays set after `state ready`, so it says nothing about the live state. */
  configDisabled: boolean;
  userWeight: number;
  initialWeight: number;
  /** Numeric HCHK_STATUS_*; `showStat()` has the readable form. */
  checkStatus: number;
  checkResult: CheckResult;
  checkHealth: number;
  /** CHK_ST_* bits; 0 when the server has no health check. */
  checkState: number;
  fqdn: string | null;
}

export type StatType = 'frontend' | 'backend' | 'server' | 'listener' | 'unknown';

export interface StatRow {
  pxname: string;
  svname: string;
  type: StatType;
  /** e.g. UP, DOWN, MAINT, DRAIN, "UP 1/3", "no check", OPEN. */
  status: string;
  /** e.g. L4OK, L7OK, L4CON, "" when there is no check. */
  checkStatus: string;
  weight: number | null;
  addr: string;
  fields: Readonly<Record<string, string>>;
}

export type HaproxyInfo = Readonly<Record<string, string>>;

interface Pending {
  command: string;
  resolve: (answer: string) => void;
  reject: (error: Error) => void;
}

const DEFAULT_TIMEOUT_MS = 10_000;
// Bounds what one lost connection can leave in doubt; HAProxy itself copes with far more.
const MAX_COMMANDS_PER_CONNECTION = 1000;

/**
 * Runtime API client. Commands go through one queue: at most one connection
 * is open at a time, and everything queued meanwhile is pipelined, in order,
 * on the next one (interactive `prompt` mode, one command per line).
 */
export class RuntimeClient {
  readonly socket: string;
  readonly timeoutMs: number;
  readonly #onRetry: ((reason: string, attempt: number) => void) | undefined;
  readonly #onCommand: ((ok: boolean) => void) | undefined;
  #queue: Pending[] = [];
  #draining = false;

  constructor(opts: RuntimeClientOptions) {
    this.socket = opts.socket;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#onRetry = opts.onRetry;
    this.#onCommand = opts.onCommand;
  }

  /** HAProxy's answer, without the blank line that ends it. Never judges the answer. */
  async command(cmd: string): Promise<string> {
    const answer = await this.#ask(cmd);
    this.#onCommand?.(true);
    return answer;
  }

  /** One answer per command, in order; commands are sent back to back on one connection. */
  batch(cmds: readonly string[]): Promise<string[]> {
    try {
      cmds.forEach(checkCommand);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.all(cmds.map((cmd) => this.#enqueue(cmd).then((answer) => (this.#onCommand?.(true), answer))));
  }

  async setMap(map: string, key: string, value: string): Promise<void> {
    await this.#expectEmpty(`set map ${mapRef(map)} ${mapKey(key)} ${token('map value', value)}`);
  }

  /** Adds even if the key exists: HAProxy then keeps both, and exact-match lookups (map(), map_str) keep returning the older one. */
  async addMap(map: string, key: string, value: string): Promise<void> {
    await this.#expectEmpty(`add map ${mapRef(map)} ${mapKey(key)} ${token('map value', value)}`);
  }

  /** Removes every entry with this key. */
  async delMap(map: string, key: string): Promise<void> {
    await this.#expectEmpty(`del map ${mapRef(map)} ${mapKey(key)}`);
  }

  /** Entries in HAProxy's order; for a duplicated key, the first one wins, as it does for exact-match lookups. */
  async showMap(map: string): Promise<Map<string, string>> {
    const cmd = `show map ${mapRef(map)}`;
    return this.#parsed(cmd, await this.#ask(cmd), parseMap);
  }

  async setServerAddr(backend: string, server: string, addr: string, port: number): Promise<void> {
    if (net.isIP(addr) === 0) throw invalid('server address', addr, 'must be an IPv4 or IPv6 address');
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      // HAProxy silently truncates ports above 65535 (70000 becomes 4464).
      throw invalid('server port', String(port), 'must be an integer from 1 to 65535');
    }
    const cmd = `set server ${serverRef(backend, server)} addr ${addr} port ${port}`;
    const answer = await this.#ask(cmd);
    if (!this.#judged(parseSetAddrAnswer(answer) !== null)) throw this.#rejected(cmd, answer);
  }

  async setServerState(backend: string, server: string, state: ServerAdminState): Promise<void> {
    if (!['ready', 'maint', 'drain'].includes(state)) throw invalid('server state', state, 'must be ready, maint or drain');
    await this.#expectEmpty(`set server ${serverRef(backend, server)} state ${state}`);
  }

  async setServerWeight(backend: string, server: string, weight: number): Promise<void> {
    if (!Number.isInteger(weight) || weight < 0 || weight > 256) {
      throw invalid('server weight', String(weight), 'must be an integer from 0 to 256');
    }
    await this.#expectEmpty(`set server ${serverRef(backend, server)} weight ${weight}`);
  }

  async showServersState(backend?: string): Promise<ServerState[]> {
    const cmd = backend === undefined ? 'show servers state' : `show servers state ${name('backend', backend)}`;
    const answer = await this.#ask(cmd);
    const servers = await parseServersStateInSlices(answer);
    this.#judged(servers !== null);
    if (servers === null) throw this.#rejected(cmd, answer);
    return servers;
  }

  /** Opens (or updates) the transaction for `file` with new content; commitSslCert makes it live. */
  async setSslCert(file: string, pem: string): Promise<void> {
    await this.#expect(`set ssl cert ${token('certificate file', file)}`, SSL_SET_OK, pem);
  }

  async commitSslCert(file: string): Promise<void> {
    await this.#expect(`commit ssl cert ${token('certificate file', file)}`, SSL_COMMIT_OK);
  }

  /** Drops an open transaction; "nothing to abort" counts as done. */
  async abortSslCert(file: string): Promise<void> {
    await this.#expect(`abort ssl cert ${token('certificate file', file)}`, SSL_ABORT_OK);
  }

  /** An empty certificate store for `file`, to fill with set + commit before a crt-list entry uses it. */
  async newSslCert(file: string): Promise<void> {
    await this.#expect(`new ssl cert ${token('certificate file', file)}`, SSL_NEW_OK);
  }

  async delSslCert(file: string): Promise<void> {
    await this.#expect(`del ssl cert ${token('certificate file', file)}`, SSL_DEL_OK);
  }

  /** Adds `file` to a crt-list with its SNI filter (the payload form: the one-line form takes no filter). */
  async addCrtListEntry(crtList: string, file: string, sni: string): Promise<void> {
    await this.#expect(`add ssl crt-list ${token('crt-list', crtList)}`, CRTLIST_ADD_OK, `${token('certificate file', file)} ${token('SNI filter', sni)}`);
  }

  async delCrtListEntry(crtList: string, file: string): Promise<void> {
    await this.#expect(`del ssl crt-list ${token('crt-list', crtList)} ${token('certificate file', file)}`, CRTLIST_DEL_OK);
  }

  /** The live certificate of `file`: its serial and status ("Used", "Unused"). */
  async showSslCert(file: string): Promise<SslCertInfo> {
    const cmd = `show ssl cert ${token('certificate file', file)}`;
    return this.#parsed(cmd, await this.#ask(cmd), parseSslCert);
  }

  async showStat(): Promise<StatRow[]> {
    const cmd = 'show stat';
    return this.#parsed(cmd, await this.#ask(cmd), parseStat);
  }

  async showInfo(): Promise<HaproxyInfo> {
    const cmd = 'show info';
    return this.#parsed(cmd, await this.#ask(cmd), parseInfo);
  }

  /** Sends one checked command without counting it; the caller counts it once it has judged the answer. */
  #ask(cmd: string): Promise<string> {
    try {
      checkCommand(cmd);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(cmd);
  }

  #judged(ok: boolean): boolean {
    this.#onCommand?.(ok);
    return ok;
  }

  /** Sends `cmd`, with a payload when given, and accepts only an answer matching `ok`. */
  async #expect(cmd: string, ok: RegExp, payload?: string): Promise<void> {
    const raw = await (payload === undefined ? this.#ask(cmd) : this.#askWithPayload(cmd, payload));
    const answer = withoutPayloadPrompts(raw);
    if (!this.#judged(ok.test(answer))) throw this.#rejected(cmd, answer);
  }

  /**
   * A command with a payload (`cmd <<`, the lines, then an empty line). The
   * empty line ends the payload, so a payload holding one would be cut
   * short and the rest read as commands: refused here.
   */
  #askWithPayload(cmd: string, payload: string): Promise<string> {
    const body = payload.replace(/\n+$/, '');
    if (body === '' || /\n\s*\n/.test(body) || body.includes('\r')) {
      return Promise.reject(invalid('payload', `(${body.split('\n').length} lines)`, 'must be non-empty lines without blank lines or carriage returns'));
    }
    try {
      checkCommand(cmd);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(`${cmd} <<\n${body}\n`);
  }

  async #expectEmpty(cmd: string): Promise<void> {
    const answer = await this.#ask(cmd);
    if (!this.#judged(answer === '')) throw this.#rejected(cmd, answer);
  }

  #parsed<T>(cmd: string, answer: string, parse: (answer: string) => T | null): T {
    const result = parse(answer);
    this.#judged(result !== null);
    if (result === null) throw this.#rejected(cmd, answer);
    return result;
  }

  #rejected(cmd: string, answer: string): HaproxyError {
    // A payload may hold a key: only the command line itself is ever shown.
    cmd = cmd.split('\n')[0] ?? cmd;
    const shown = answer === '' ? '(empty answer)' : answer.split('\n').slice(0, 3).join(' | ');
    return new HaproxyError('HAPROXY_COMMAND_FAILED', `HAProxy (${this.socket}) rejected "${cmd}": ${shown}`, {
      socket: this.socket,
      command: cmd,
      answer,
    });
  }

  #enqueue(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ command, resolve, reject });
      if (this.#draining) return;
      this.#draining = true;
      // Lets every command issued in the same tick join the first connection.
      queueMicrotask(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      await this.#send(this.#queue.splice(0, MAX_COMMANDS_PER_CONNECTION));
    }
    this.#draining = false;
  }

  async #send(round: Pending[]): Promise<void> {
    const payload = `prompt\n${round.map((p) => `${p.command}\n`).join('')}`;
    let text: string;
    try {
      text = await exchange(this.socket, payload, { timeoutMs: this.timeoutMs, onRetry: this.#onRetry });
    } catch (err) {
      for (const p of round) this.#fail(p, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const [promptAnswer, ...answers] = splitPromptAnswers(text, round.length + 1);
    if (text !== '' && promptAnswer !== '') {
      const error = this.#notAdminSocket();
      for (const p of round) this.#fail(p, error);
      return;
    }
    round.forEach((p, i) => {
      const answer = answers[i];
      if (answer !== undefined) p.resolve(answer);
      else this.#fail(p, this.#cutShort(p.command.split('\n')[0] ?? ''));
    });
  }

  /** A command that got no usable answer: counted here, since no caller will judge it. */
  #fail(p: Pending, error: Error): void {
    this.#onCommand?.(false);
    p.reject(error);
  }

  #notAdminSocket(): HaproxyError {
    return new HaproxyError(
      'HAPROXY_COMMAND_FAILED',
      `${this.socket} did not answer like a HAProxy admin socket in prompt mode; is it the master CLI socket instead of the "stats socket"?`,
      { socket: this.socket, command: 'prompt' },
    );
  }

  #cutShort(cmd: string): HaproxyError {
    return new HaproxyError(
      'HAPROXY_CONNECTION_LOST',
      `HAProxy socket ${this.socket} closed the connection before answering "${cmd}"; it may or may not have been applied`,
      { socket: this.socket, command: cmd },
    );
  }
}

/**
 * In prompt mode every answer is its body (zero or more lines, each ending
 * in "\n"), one "\n", then the prompt "> ". A blank line directly followed
 * by "> " therefore ends an answer; a "> " inside a body never follows a
 * blank line in what HAProxy prints.
 */
export function splitPromptAnswers(text: string, expected: number): string[] {
  const answers: string[] = [];
  let pos = 0;
  while (answers.length < expected) {
    const end = findPrompt(text, pos);
    if (end < 0) break;
    answers.push(text.slice(pos, end).replace(/\n$/, ''));
    pos = end + 3;
  }
  return answers;
}

function findPrompt(text: string, from: number): number {
  for (let i = text.indexOf('\n> ', from); i >= 0; i = text.indexOf('\n> ', i + 1)) {
    if (i === from || text[i - 1] === '\n') return i;
  }
  return -1;
}

/**
 * What `set server <b>/<s> addr <ip> [port <p>]` answered, by meaning.
 * 2.6 names both parts, changed or not: "IP changed from 'a' to 'b'" or "no
 * need to change the addr", then ", port changed from 'x' to 'y'" or ", no
 * need to change the port", then " by 'stats socket command'". 3.0 and later
 * name only what changed ("port changed from 'x' to 'y' by ...") and answer
 * "nothing changed" when nothing did. A problem with the port is reported in
 * the same sentence after an address success, so the whole answer must be
 * known: anything else is null, a refusal.
 */
export function parseSetAddrAnswer(answer: string): 'changed' | 'unchanged' | null {
  if (answer === 'nothing changed') return 'unchanged';
  if (!answer.endsWith(SET_ADDR_BY)) return null;
  const parts = answer.slice(0, -SET_ADDR_BY.length).split(', ');
  let next = 0;
  let changed = false;
  for (const [kind, unchanged] of SET_ADDR_PARTS) {
    const part = parts[next];
    if (part === undefined) break;
    if (part === unchanged) next++;
    else if (kind.test(part)) {
      next++;
      changed = true;
    }
  }
  if (next === 0 || next !== parts.length) return null;
  return changed ? 'changed' : 'unchanged';
}

const SET_ADDR_BY = " by 'stats socket command'";
/** In the order HAProxy names them: the address part, then the port part; each either changed or not. */
const SET_ADDR_PARTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^IP changed from '[^']*' to '[^']*'$/, 'no need to change the addr'],
  [/^port changed from '[^']*' to '[^']*'$/, 'no need to change the port'],
];

// Answers to the certificate commands, by meaning; the wording is the same
// from 2.6 to 3.2 apart from the dots after "Committing <file>".
const SSL_SET_OK = /^Transaction (?:created|updated) for certificate \S+!$/;
const SSL_COMMIT_OK = /^Committing \S+?\.*\nSuccess!$/;
const SSL_ABORT_OK = /^(?:Transaction aborted for certificate '\S+'!|No ongoing transaction!)$/;
const SSL_NEW_OK = /^New empty certificate store '\S+'!$/;
const SSL_DEL_OK = /^Certificate '\S+' deleted!$/;
const CRTLIST_ADD_OK = /^Inserting certificate '\S+' in crt-list '\S+'\.\nSuccess!$/;
const CRTLIST_DEL_OK = /^Entry '\S+' deleted in crtlist '\S+'!$/;

export interface SslCertInfo {
  /** Upper-case hex without leading zeros. */
  readonly serial: string;
  readonly status: string;
  readonly notAfter: string;
}

/** Before 3.2, HAProxy prompts "+ " for every payload line it reads in prompt mode; the prompts precede the answer. */
function withoutPayloadPrompts(answer: string): string {
  return answer.replace(/^(?:\+ )+/, '');
}

function parseSslCert(answer: string): SslCertInfo | null {
  const fields = new Map<string, string>();
  for (const line of lines(answer)) {
    const colon = line.indexOf(': ');
    if (colon > 0 && !fields.has(line.slice(0, colon))) fields.set(line.slice(0, colon), line.slice(colon + 2).trim());
  }
  const serial = fields.get('Serial');
  if (!serial || !/^[0-9A-Fa-f]+$/.test(serial)) return null;
  return { serial: serial.toUpperCase().replace(/^0+(?=.)/, ''), status: fields.get('Status') ?? '', notAfter: fields.get('notAfter') ?? '' };
}

const NAME = /^[A-Za-z0-9_.:-]+$/;
// Printable ASCII without space: the CLI splits on spaces and ';', and treats '\' as an escape.
const TOKEN = /^[!-~]+$/;

function checkCommand(cmd: string): void {
  if (cmd.trim() === '' || /[\r\n;]/.test(cmd)) {
    throw invalid('command', cmd, 'must be one non-empty command without newlines or ";" (use batch() for several)');
  }
}

function invalid(what: string, value: string, rule: string): HaproxyError {
  return new HaproxyError('HAPROXY_INVALID_ARGUMENT', `${what} ${JSON.stringify(value)} ${rule}`, { command: value });
}

function name(what: string, value: string): string {
  if (!NAME.test(value)) throw invalid(what, value, 'must be a HAProxy name (letters, digits, "_.:-")');
  return value;
}

function token(what: string, value: string): string {
  if (!TOKEN.test(value) || /[;\\]/.test(value)) {
    throw invalid(what, value, 'must be printable ASCII without spaces, ";" or "\\"');
  }
  return value;
}

function mapRef(map: string): string {
  return token('map', map);
}

function mapKey(key: string): string {
  // The CLI reads "#<n>" in the key position as an entry reference, not a key.
  if (key.startsWith('#')) throw invalid('map key', key, 'must not start with "#"');
  return token('map key', key);
}

function serverRef(backend: string, server: string): string {
  return `${name('backend', backend)}/${name('server', server)}`;
}

const MAP_LINE = /^0x[0-9a-f]+ (\S+)(?: (.*))?$/;

export function parseMap(answer: string): Map<string, string> | null {
  const entries = new Map<string, string>();
  for (const line of lines(answer)) {
    const m = MAP_LINE.exec(line);
    if (m === null || m[1] === undefined) return null;
    if (!entries.has(m[1])) entries.set(m[1], m[2] ?? '');
  }
  return entries;
}

const OP_STATES: readonly ServerOpState[] = ['stopped', 'starting', 'running', 'stopping'];
const CHECK_RESULTS: readonly CheckResult[] = ['unknown', 'neutral', 'failed', 'passed', 'condpass'];
const ADMF_MAINT = 0x23;
const ADMF_CMAINT = 0x04;
const ADMF_DRAIN = 0x18;
const SERVERS_STATE_FIELDS = ['be_id', 'be_name', 'srv_id', 'srv_name', 'srv_addr', 'srv_op_state', 'srv_admin_state', 'srv_port'];

export function parseServersState(answer: string): ServerState[] | null {
  const parse = serversStateParser(answer);
  if (parse === null) return null;
  let done: ServerState[] | null | undefined;
  while ((done = parse.next()) === undefined);
  return done;
}

/** Rows parsed per turn of the event loop when parsing in slices. */
const SERVERS_STATE_SLICE = 5000;

/**
 * parseServersState a slice of rows at a time with the event loop free in
 * between: at 280,000 servers (the drift check reads them all every
 * resyncSeconds) parsing in one go would hold the loop for a fraction of a
 * second.
 */
export async function parseServersStateInSlices(answer: string): Promise<ServerState[] | null> {
  const parse = serversStateParser(answer);
  if (parse === null) return null;
  for (;;) {
    const done = parse.next(SERVERS_STATE_SLICE);
    if (done !== undefined) return done;
    await setImmediate();
  }
}

/** `next(n)`: parses up to n more rows; the servers once all are parsed, null at a row not understood, undefined while rows remain. */
function serversStateParser(answer: string): { next(rows?: number): ServerState[] | null | undefined } | null {
  const firstEnd = answer.indexOf('\n');
  const headerEnd = firstEnd < 0 ? -1 : answer.indexOf('\n', firstEnd + 1);
  const version = answer.slice(0, firstEnd < 0 ? answer.length : firstEnd);
  const header = firstEnd < 0 ? undefined : answer.slice(firstEnd + 1, headerEnd < 0 ? answer.length : headerEnd);
  if (version !== '1' || header === undefined || !header.startsWith('# ')) return null;
  const names = header.slice(2).split(' ');
  if (!SERVERS_STATE_FIELDS.every((f) => names.includes(f))) return null;
  const columns: ColumnIndex = new Map(names.map((n, i) => [n, i]));
  const servers: ServerState[] = [];
  let pos = headerEnd < 0 ? answer.length : headerEnd + 1;
  return {
    next(rows = Infinity) {
      for (let n = 0; n < rows && pos < answer.length; n++) {
        let end = answer.indexOf('\n', pos);
        if (end < 0) end = answer.length;
        const row = answer.slice(pos, end);
        pos = end + 1;
        if (row === '') continue;
        const values = row.split(' ');
        if (values.length !== names.length) return null;
        const server = toServerState(columns, values);
        if (server === null) return null;
        servers.push(server);
      }
      return pos < answer.length ? undefined : servers;
    },
  };
}

/** Column index by name; a row's values are read through it, with no record made per row (280,000 of them at scale). */
type ColumnIndex = ReadonlyMap<string, number>;

function toServerState(columns: ColumnIndex, values: readonly string[]): ServerState | null {
  const field = (key: string): string | undefined => {
    const i = columns.get(key);
    return i === undefined ? undefined : values[i];
  };
  const num = (key: string): number => {
    const v = field(key);
    return v === undefined || v === '' ? NaN : Number(v);
  };
  const f = { srv_fqdn: field('srv_fqdn'), be_name: field('be_name'), srv_name: field('srv_name'), srv_addr: field('srv_addr') };
  const opState = OP_STATES[num('srv_op_state')];
  const adminFlags = num('srv_admin_state');
  if (opState === undefined || !Number.isInteger(adminFlags)) return null;
  const fqdn = f.srv_fqdn;
  return {
    backendId: num('be_id'),
    backend: f.be_name ?? '',
    id: num('srv_id'),
    name: f.srv_name ?? '',
    addr: f.srv_addr ?? '',
    port: num('srv_port'),
    opState,
    adminState: adminFlags & ADMF_MAINT ? 'maint' : adminFlags & ADMF_DRAIN ? 'drain' : 'ready',
    adminFlags,
    configDisabled: (adminFlags & ADMF_CMAINT) !== 0,
    userWeight: num('srv_uweight'),
    initialWeight: num('srv_iweight'),
    checkStatus: num('srv_check_status'),
    checkResult: CHECK_RESULTS[num('srv_check_result')] ?? 'unknown',
    checkHealth: num('srv_check_health'),
    checkState: num('srv_check_state'),
    fqdn: fqdn === undefined || fqdn === '-' ? null : fqdn,
  };
}

const STAT_TYPES: readonly StatType[] = ['frontend', 'backend', 'server', 'listener'];

export function parseStat(answer: string): StatRow[] | null {
  const [header, ...rows] = answer.split('\n');
  if (header === undefined || !header.startsWith('# pxname,svname,')) return null;
  const names = splitCsv(header.slice(2));
  const stats: StatRow[] = [];
  for (const row of rows) {
    if (row === '') continue;
    const values = splitCsv(row);
    const f = Object.freeze(Object.fromEntries(names.map((n, i) => [n, values[i] ?? ''])));
    const weight = f.weight === undefined || f.weight === '' ? null : Number(f.weight);
    stats.push({
      pxname: f.pxname ?? '',
      svname: f.svname ?? '',
      type: STAT_TYPES[Number(f.type)] ?? 'unknown',
      status: f.status ?? '',
      checkStatus: f.check_status ?? '',
      weight,
      addr: f.addr ?? '',
      fields: f,
    });
  }
  return stats;
}

/** HAProxy quotes a CSV field (doubling inner quotes) only when it contains a comma, quote or newline. */
export function splitCsv(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') field += line[++i];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

export function parseInfo(answer: string): HaproxyInfo | null {
  const info: Record<string, string> = {};
  for (const line of lines(answer)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    info[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
  }
  return info.Name !== undefined && info.Version !== undefined ? Object.freeze(info) : null;
}

function lines(answer: string): string[] {
  return answer === '' ? [] : answer.split('\n');
}
