/**
 * The daemon config: YAML file, then HAPROXY_SYNC_* environment variables,
 * then command-line flags, validated once and frozen. A bad value is reported
 * with where it came from (file, variable or flag), the field and the fix.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SyncError, errorMessage } from './errors.ts';
import { haproxyWord } from './core/escape.ts';
import { isIPv4 } from './core/validate.ts';

export const DEFAULT_CONFIG_FILE = '/etc/haproxy-sync/config.yaml';

export interface Config {
  readonly file: string | null;
  readonly node: string;
  readonly etcd: {
    readonly endpoints: readonly string[];
    readonly prefix: string;
    readonly tls: { readonly ca: string | null; readonly cert: string | null; readonly key: string | null } | null;
    readonly auth: { readonly username: string; readonly passwordFile: string } | null;
  };
  readonly kubernetes: {
    readonly kubeconfig: string | null;
    readonly inCluster: boolean;
    readonly namespaces: readonly string[];
    readonly endpoints: 'slices' | 'endpoints';
    readonly watchTimeoutSeconds: number;
    /** Namespaces whose kubernetes.io/tls Secrets vhosts may name; empty: no Secrets are read. */
    readonly secretNamespaces: readonly string[];
  } | null;
  readonly static: { readonly file: string } | null;
  /** Certificate files vhosts may name ({"file": "shop.pem"}), watched. */
  readonly tls: { readonly dir: string } | null;
  readonly haproxy: {
    readonly binary: string;
    readonly config: string;
    readonly mapsDir: string;
    readonly masterSocket: string;
    readonly adminSocket: string;
    readonly bind: readonly string[];
    /** Bind lines of the HTTPS frontend; empty: no HTTPS. */
    readonly bindTls: readonly string[];
    /** Where the crt-list, the vhosts' certificates and the default certificate are written for HAProxy. */
    readonly certsDir: string;
    readonly spareSlots: number;
    /** How often HAProxy's runtime state is compared with what was applied; 0 turns it off. */
    readonly resyncSeconds: number;
    readonly user: string;
    readonly group: string;
    readonly chroot: string;
    readonly log: string;
    readonly errorfiles: string;
  };
  readonly state: { readonly dir: string };
  readonly templates: string | null;
  readonly sync: { readonly debounceMs: number; readonly maxDelayMs: number };
  readonly api: { readonly listen: string; readonly tokenFile: string | null };
  readonly log: { readonly level: LogLevel };
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type Kind = 'string' | 'path' | 'strings' | 'int' | 'bool';
interface Field {
  readonly path: string;
  readonly kind: Kind;
  readonly check?: (value: never) => string | null;
  /** '' is a value of its own (a setting turned off), not a missing one. */
  readonly allowEmpty?: boolean;
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Every leaf the config knows, in file order; environment and flag names derive from these paths. */
const FIELDS: readonly Field[] = [
  { path: 'node', kind: 'string', check: (v: string) => (NODE_NAME.test(v) ? null : 'must be letters, digits, ".", "_" or "-" (at most 63)') },
  { path: 'etcd.endpoints', kind: 'strings', check: (v: string[]) => checkEndpoints(v) },
  { path: 'etcd.prefix', kind: 'string', check: (v: string) => (/^\/[A-Za-z0-9._/-]*\/$/.test(v) ? null : 'must start and end with "/" (letters, digits, ".", "_", "-")') },
  { path: 'etcd.tls.ca', kind: 'path' },
  { path: 'etcd.tls.cert', kind: 'path' },
  { path: 'etcd.tls.key', kind: 'path' },
  { path: 'etcd.auth.username', kind: 'string' },
  { path: 'etcd.auth.passwordFile', kind: 'path' },
  { path: 'kubernetes.kubeconfig', kind: 'path' },
  { path: 'kubernetes.inCluster', kind: 'bool' },
  { path: 'kubernetes.namespaces', kind: 'strings', check: (v: string[]) => (v.every((n) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(n)) ? null : 'must be namespace names') },
  { path: 'kubernetes.endpoints', kind: 'string', check: (v: string) => (v === 'slices' || v === 'endpoints' ? null : 'must be "slices" or "endpoints"') },
  // At most 30: the client library drops a stream silent for 30 s, and the server's bookmark comes 2 s before the timeout.
  { path: 'kubernetes.watchTimeoutSeconds', kind: 'int', check: (v: number) => (v >= 5 && v <= 30 ? null : 'must be 5 to 30') },
  { path: 'kubernetes.secretNamespaces', kind: 'strings', check: (v: string[]) => (v.every((n) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(n)) ? null : 'must be namespace names') },
  { path: 'static.file', kind: 'path' },
  { path: 'tls.dir', kind: 'path' },
  { path: 'haproxy.binary', kind: 'string' },
  { path: 'haproxy.config', kind: 'path', check: safeWord },
  { path: 'haproxy.mapsDir', kind: 'path', check: safeWord },
  { path: 'haproxy.masterSocket', kind: 'path' },
  { path: 'haproxy.adminSocket', kind: 'path', check: safeWord },
  { path: 'haproxy.bind', kind: 'strings', check: (v: string[]) => checkBind(v) },
  { path: 'haproxy.bindTls', kind: 'strings', check: (v: string[]) => (v.length === 0 ? null : checkBind(v)) },
  { path: 'haproxy.certsDir', kind: 'path', check: safeWord },
  { path: 'haproxy.spareSlots', kind: 'int', check: (v: number) => (v >= 0 && v <= 1000 ? null : 'must be a whole number from 0 to 1000') },
  { path: 'haproxy.resyncSeconds', kind: 'int', check: (v: number) => (v >= 0 && v <= 86400 ? null : 'must be 0 (off) to 86400') },
  { path: 'state.dir', kind: 'path', check: safeWord },
  { path: 'haproxy.user', kind: 'string', allowEmpty: true, check: (v: string) => offOr(v, accountName) },
  { path: 'haproxy.group', kind: 'string', allowEmpty: true, check: (v: string) => offOr(v, accountName) },
  { path: 'haproxy.chroot', kind: 'string', allowEmpty: true, check: (v: string) => offOr(v, absoluteWord) },
  { path: 'haproxy.log', kind: 'string', allowEmpty: true, check: (v: string) => offOr(v, logTarget) },
  { path: 'haproxy.errorfiles', kind: 'string', allowEmpty: true, check: (v: string) => offOr(v, absoluteWord) },
  { path: 'templates', kind: 'path' },
  { path: 'sync.debounceMs', kind: 'int', check: (v: number) => (v >= 0 && v <= 60000 ? null : 'must be 0 to 60000') },
  { path: 'sync.maxDelayMs', kind: 'int', check: (v: number) => (v >= 0 && v <= 600000 ? null : 'must be 0 to 600000') },
  { path: 'api.listen', kind: 'string', check: (v: string) => (parseListen(v) ? null : 'must be "host:port", e.g. 127.0.0.1:9180') },
  { path: 'api.tokenFile', kind: 'path' },
  { path: 'log.level', kind: 'string', check: (v: string) => ((LOG_LEVELS as readonly string[]).includes(v) ? null : `must be one of ${LOG_LEVELS.join(', ')}`) },
];

const OPTIONAL_SECTIONS = ['etcd.tls', 'etcd.auth', 'kubernetes', 'static', 'tls'];

function defaults(): Record<string, unknown> {
  return {
    node: hostname().split('.')[0] || 'localhost',
    etcd: { endpoints: ['http://127.0.0.1:2379'], prefix: '/haproxy-sync/', tls: null, auth: null },
    kubernetes: null,
    static: null,
    tls: null,
    haproxy: {
      binary: 'haproxy',
      config: '/etc/haproxy/haproxy.cfg',
      mapsDir: '/etc/haproxy/maps',
      masterSocket: '/run/haproxy-master.sock',
      adminSocket: '/run/haproxy/admin.sock',
      bind: [':80'],
      bindTls: [],
      certsDir: '/etc/haproxy/certs',
      spareSlots: 4,
      resyncSeconds: 30,
      // As Debian's haproxy package runs HAProxy; '' turns a part off.
      user: 'haproxy',
      group: 'haproxy',
      chroot: '/var/lib/haproxy',
      log: '/dev/log',
      errorfiles: '/etc/haproxy/errors',
    },
    state: { dir: '/var/lib/haproxy-sync' },
    templates: null,
    sync: { debounceMs: 50, maxDelayMs: 1000 },
    api: { listen: '127.0.0.1:9180', tokenFile: null },
    log: { level: 'info' },
  };
}

const SECTION_DEFAULTS: Record<string, Record<string, unknown>> = {
  'etcd.tls': { ca: null, cert: null, key: null },
  'etcd.auth': { username: '', passwordFile: '' },
  kubernetes: { kubeconfig: null, inCluster: false, namespaces: [], endpoints: 'slices', watchTimeoutSeconds: 25, secretNamespaces: [] },
  static: { file: '' },
  tls: { dir: '' },
};

export interface LoadOptions {
  readonly file: string | null;
  /** Whether a missing file is an error (an explicit --config) or means "defaults only". */
  readonly required: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Flag overrides by config path ("haproxy.config" → value as typed). */
  readonly flags: Readonly<Record<string, string>>;
}

/** Where a value came from: blamed in error messages, and the directory its relative paths start from. */
interface Origin {
  readonly what: string;
  readonly baseDir: string;
}

export function loadConfig(opts: LoadOptions): Config {
  const tree = defaults();
  const fileOrigin: Origin = { what: opts.file ? `config file ${opts.file}` : 'config', baseDir: opts.file ? dirname(resolve(opts.file)) : process.cwd() };
  const origins = new Map<string, Origin>();
  const fromFile = opts.file ? readConfigFile(opts.file, opts.required) : null;
  if (fromFile) mergeFile(tree, fromFile, '', fileOrigin.what);
  for (const field of FIELDS) {
    const envName = envNameFor(field.path);
    const envValue = opts.env[envName];
    if (envValue !== undefined) override(tree, origins, field, envValue, { what: `environment ${envName}`, baseDir: process.cwd() });
    const flagValue = opts.flags[field.path];
    if (flagValue !== undefined) override(tree, origins, field, flagValue, { what: `flag --${flagNameFor(field.path)}`, baseDir: process.cwd() });
  }
  for (const field of FIELDS) validateLeaf(tree, field, origins.get(field.path) ?? fileOrigin);
  return finish(tree as unknown as Config, opts.file, fileOrigin.what);
}

function override(tree: Record<string, unknown>, origins: Map<string, Origin>, field: Field, text: string, origin: Origin): void {
  setLeaf(tree, field, coerce(field, text, origin.what));
  origins.set(field.path, origin);
}

export function envNameFor(path: string): string {
  return `HAPROXY_SYNC_${path.split('.').map((p) => p.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

export function flagNameFor(path: string): string {
  return path.split('.').map((p) => p.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()).join('-');
}

/** Config paths by flag name, for the command-line parser. */
export function configFlags(): Map<string, string> {
  return new Map(FIELDS.map((f) => [flagNameFor(f.path), f.path]));
}

function readConfigFile(file: string, required: boolean): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SyncError('CONFIG_UNREADABLE', `config file ${file}: cannot read it (${errorMessage(err)})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new SyncError('CONFIG_UNREADABLE', `config file ${file}: not valid YAML (${errorMessage(err).split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new SyncError('CONFIG_INVALID', `config file ${file}: must be a YAML mapping`);
  return doc as Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Copies the file's values over the defaults, refusing unknown keys so typos do not pass silently. */
function mergeFile(tree: Record<string, unknown>, doc: Record<string, unknown>, prefix: string, origin: string): void {
  for (const [key, value] of Object.entries(doc)) {
    const path = prefix + key;
    const isSection = OPTIONAL_SECTIONS.includes(path) || FIELDS.some((f) => f.path.startsWith(`${path}.`));
    const isLeaf = FIELDS.some((f) => f.path === path);
    if (!isSection && !isLeaf) throw new SyncError('CONFIG_INVALID', `${origin}: ${path}: unknown field`);
    if (isLeaf) {
      tree[key] = value;
      continue;
    }
    if (value === null && OPTIONAL_SECTIONS.includes(path)) {
      tree[key] = null;
      continue;
    }
    if (!isRecord(value)) throw new SyncError('CONFIG_INVALID', `${origin}: ${path}: must be a mapping`);
    const sub = isRecord(tree[key]) ? tree[key] : { ...(SECTION_DEFAULTS[path] ?? {}) };
    tree[key] = sub;
    mergeFile(sub, value, `${path}.`, origin);
  }
}

function setLeaf(tree: Record<string, unknown>, field: Field, value: unknown): void {
  const parts = field.path.split('.');
  let node = tree;
  let path = '';
  for (const part of parts.slice(0, -1)) {
    path = path ? `${path}.${part}` : part;
    if (!isRecord(node[part])) node[part] = { ...(SECTION_DEFAULTS[path] ?? {}) };
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] ?? ''] = value;
}

function coerce(field: Field, text: string, origin: string): unknown {
  switch (field.kind) {
    case 'strings':
      return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'int':
      if (!/^-?[0-9]+$/.test(text.trim())) throw new SyncError('CONFIG_INVALID', `${origin}: ${field.path}: must be a whole number`);
      return Number(text.trim());
    case 'bool':
      if (!['true', 'false'].includes(text.trim())) throw new SyncError('CONFIG_INVALID', `${origin}: ${field.path}: must be true or false`);
      return text.trim() === 'true';
    default:
      return text === '' || text === 'null' ? null : text;
  }
}

function getLeaf(tree: Record<string, unknown>, path: string): { parent: Record<string, unknown>; key: string } | null {
  const parts = path.split('.');
  let node: unknown = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isRecord(node)) return null;
    node = node[part];
  }
  return isRecord(node) ? { parent: node, key: parts[parts.length - 1] ?? '' } : null;
}

function validateLeaf(tree: Record<string, unknown>, field: Field, origin: Origin): void {
  const leaf = getLeaf(tree, field.path);
  if (!leaf) return;
  const value = leaf.parent[leaf.key];
  const bad = (problem: string): never => {
    throw new SyncError('CONFIG_INVALID', `${origin.what}: ${field.path}: ${problem}`);
  };
  if (value === null || value === undefined) {
    if (field.kind === 'path' || field.path === 'templates') return;
    bad('is required');
  }
  switch (field.kind) {
    case 'string':
    case 'path':
      if (typeof value !== 'string' || (value === '' && field.allowEmpty !== true)) bad('must be a non-empty string');
      break;
    case 'strings':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) bad('must be a list of strings');
      break;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) bad('must be a whole number');
      break;
    case 'bool':
      if (typeof value !== 'boolean') bad('must be true or false');
      break;
  }
  if (field.kind === 'path') leaf.parent[leaf.key] = resolve(origin.baseDir, value as string);
  const problem = field.check?.(leaf.parent[leaf.key] as never);
  if (problem) bad(problem);
}

function finish(config: Config, file: string | null, origin: string): Config {
  const where = (field: string, problem: string): never => {
    throw new SyncError('CONFIG_INVALID', `${origin}: ${field}: ${problem}`);
  };
  if (config.sync.maxDelayMs < config.sync.debounceMs) where('sync.maxDelayMs', 'must be at least sync.debounceMs');
  if (config.kubernetes && !config.kubernetes.inCluster && !config.kubernetes.kubeconfig) where('kubernetes', 'set kubeconfig or inCluster: true');
  if (config.static && !config.static.file) where('static.file', 'is required when the static section is present');
  if (config.tls && !config.tls.dir) where('tls.dir', 'is required when the tls section is present');
  const listen = parseListen(config.api.listen);
  if (listen && !isLoopback(listen.host) && !config.api.tokenFile) {
    where('api.tokenFile', `is required when api.listen (${config.api.listen}) is not a loopback address`);
  }
  return deepFreeze({ ...config, file });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** '' turns the setting off; anything else must pass `check`. */
function offOr(value: string, check: (v: string) => string | null): string | null {
  return value === '' ? null : check(value);
}

function accountName(value: string): string | null {
  return /^[a-z_][a-z0-9_-]{0,31}$/.test(value) ? null : 'must be a user or group name (lower-case letters, digits, "_", "-"), or "" for off';
}

function absoluteWord(value: string): string | null {
  return value.startsWith('/') ? safeWord(value) : 'must be an absolute path, or "" for off';
}

/** A syslog socket path or host:port, as HAProxy's "log" takes it. */
function logTarget(value: string): string | null {
  return value.startsWith('/') || /^[A-Za-z0-9.-]+:\d{1,5}$/.test(value) || /^\[[0-9A-Fa-f:]+\]:\d{1,5}$/.test(value)
    ? safeWord(value)
    : 'must be a syslog socket path (/dev/log) or host:port, or "" for off';
}

function safeWord(value: string): string | null {
  try {
    haproxyWord(value);
    return null;
  } catch {
    return 'must not contain spaces, quotes, "#" or "\\"';
  }
}

function checkBind(lines: string[]): string | null {
  if (lines.length === 0) return 'needs at least one bind line';
  for (const line of lines) {
    const words = line.trim().split(/\s+/);
    if (words.some((w) => safeWord(w) !== null)) return `"${line}" must be words without quotes, "#" or "\\"`;
  }
  return null;
}

function checkEndpoints(urls: string[]): string | null {
  if (urls.length === 0) return 'needs at least one endpoint';
  for (const url of urls) {
    if (!/^https?:\/\/[^\s/]+$/.test(url)) return `"${url}" must be like http://127.0.0.1:2379`;
  }
  return null;
}

export function parseListen(listen: string): { host: string; port: number } | null {
  const m = /^\[?([^\]]*?)\]?:([0-9]{1,5})$/.exec(listen);
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 0 && port <= 65535 ? { host: m[1] ?? '', port } : null;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/** Bind lines as lists of words, the shape the templates expect. */
export function bindWords(config: Config): string[][] {
  return config.haproxy.bind.map((line) => line.trim().split(/\s+/));
}

export function tlsBindWords(config: Config): string[][] {
  return config.haproxy.bindTls.map((line) => line.trim().split(/\s+/));
}
