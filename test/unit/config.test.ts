// The daemon config: YAML file, then HAPROXY_SYNC_* variables, then flags; validated and frozen.
import t from 'tap';
import type * as Tap from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../src/args.ts';
import { bindWords, configFlags, envNameFor, flagNameFor, isLoopback, loadConfig, parseListen, type Config } from '../../src/config.ts';
import { SyncError } from '../../src/errors.ts';

const root = mkdtempSync(join(tmpdir(), 'hs-config-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** Writes the YAML to a fresh <tmp>/<n>/etc/config.yaml and returns its path. */
function configFile(yaml: string): string {
  const dir = join(root, String(++counter), 'etc');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return file;
}

function load(yaml: string, env: Record<string, string> = {}, flags: Record<string, string> = {}): Config {
  return loadConfig({ file: configFile(yaml), required: true, env, flags });
}

/** The SyncError loadConfig throws, with its code and message checked. */
function fails(t: Tap.Test, fn: () => unknown, code: string, message: RegExp | string, what?: string): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  t.type(caught, SyncError, what ?? 'throws a SyncError');
  t.equal((caught as SyncError | null)?.code, code, what ?? 'error code');
  const text = (caught as Error | null)?.message ?? '(no error)';
  if (typeof message === 'string') t.equal(text, message, what ?? 'error message');
  else t.match(text, message, what ?? 'error message');
}

t.test('an empty file gives the documented defaults', async (t) => {
  const file = configFile('');
  const c = loadConfig({ file, required: true, env: {}, flags: {} });
  t.strictSame(c, {
    file,
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
  });
});

t.test('a missing file that was not asked for explicitly means defaults', async (t) => {
  const c = loadConfig({ file: join(root, 'absent.yaml'), required: false, env: {}, flags: {} });
  t.equal(c.haproxy.spareSlots, 4);
  t.equal(c.etcd.prefix, '/haproxy-sync/');
});

t.test('the DESIGN example config loads', async (t) => {
  const c = load(`
node: lb-1
etcd:
  endpoints: ["http://127.0.0.1:2379"]
  prefix: /haproxy-sync/
kubernetes:
  kubeconfig: /etc/haproxy-sync/kubeconfig
  namespaces: []
  endpoints: slices
static:
  file: /etc/haproxy-sync/services.yaml
haproxy:
  binary: haproxy
  config: /etc/haproxy/haproxy.cfg
  mapsDir: /etc/haproxy/maps
  masterSocket: /run/haproxy-master.sock
  adminSocket: /run/haproxy/admin.sock
  bind: [":80"]
  spareSlots: 4
templates: null
sync:
  debounceMs: 50
  maxDelayMs: 1000
api:
  listen: 127.0.0.1:9180
  tokenFile: null
log:
  level: info
`);
  t.equal(c.node, 'lb-1');
  t.strictSame(c.kubernetes, { kubeconfig: '/etc/haproxy-sync/kubeconfig', inCluster: false, namespaces: [], endpoints: 'slices', watchTimeoutSeconds: 25, secretNamespaces: [] });
  t.strictSame(c.static, { file: '/etc/haproxy-sync/services.yaml' });
  t.equal(c.templates, null);
});

t.test('relative paths are resolved against the config file\'s directory', async (t) => {
  const file = configFile(`
static:
  file: services.yaml
templates: ../templates
haproxy:
  config: ./run/haproxy.cfg
  mapsDir: maps
api:
  tokenFile: secrets/token
`);
  const dir = join(file, '..');
  const c = loadConfig({ file, required: true, env: {}, flags: {} });
  t.equal(c.static?.file, join(dir, 'services.yaml'));
  t.equal(c.templates, join(dir, '..', 'templates'));
  t.equal(c.haproxy.config, join(dir, 'run', 'haproxy.cfg'));
  t.equal(c.haproxy.mapsDir, join(dir, 'maps'));
  t.equal(c.api.tokenFile, join(dir, 'secrets', 'token'));
  t.equal(c.haproxy.masterSocket, '/run/haproxy-master.sock', 'absolute paths stay');
  t.equal(c.haproxy.binary, 'haproxy', 'the binary is a command name, not a path');
});

t.test('environment variables override the file', async (t) => {
  const c = load('haproxy:\n  spareSlots: 2\netcd:\n  endpoints: ["http://x:2379"]\n', {
    HAPROXY_SYNC_ETCD_ENDPOINTS: 'http://10.0.0.1:2379, http://10.0.0.2:2379,,',
    HAPROXY_SYNC_HAPROXY_SPARE_SLOTS: '7',
    HAPROXY_SYNC_LOG_LEVEL: 'debug',
    HAPROXY_SYNC_KUBERNETES_IN_CLUSTER: 'true',
    UNRELATED: 'x',
  });
  t.strictSame(c.etcd.endpoints, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
  t.equal(c.haproxy.spareSlots, 7);
  t.equal(c.log.level, 'debug');
  t.strictSame(c.kubernetes, { kubeconfig: null, inCluster: true, namespaces: [], endpoints: 'slices', watchTimeoutSeconds: 25, secretNamespaces: [] }, 'a variable can open an optional section');
});

t.test('flags override the environment and the file', async (t) => {
  const c = load('haproxy:\n  spareSlots: 2\n', { HAPROXY_SYNC_HAPROXY_SPARE_SLOTS: '7' }, { 'haproxy.spareSlots': '9' });
  t.equal(c.haproxy.spareSlots, 9);
  const e = load('haproxy:\n  spareSlots: 2\n', { HAPROXY_SYNC_HAPROXY_SPARE_SLOTS: '7' });
  t.equal(e.haproxy.spareSlots, 7);
});

t.test('a bad environment value names the variable', async (t) => {
  fails(t, () => load('', { HAPROXY_SYNC_HAPROXY_SPARE_SLOTS: 'x' }), 'CONFIG_INVALID', 'environment HAPROXY_SYNC_HAPROXY_SPARE_SLOTS: haproxy.spareSlots: must be a whole number');
  fails(t, () => load('', { HAPROXY_SYNC_KUBERNETES_IN_CLUSTER: 'yes' }), 'CONFIG_INVALID', 'environment HAPROXY_SYNC_KUBERNETES_IN_CLUSTER: kubernetes.inCluster: must be true or false');
  fails(t, () => load('', {}, { 'sync.debounceMs': '1.5' }), 'CONFIG_INVALID', 'flag --sync-debounce-ms: sync.debounceMs: must be a whole number');
});

t.test('a value from a variable or flag that fails validation is blamed on the variable or flag', async (t) => {
  fails(t, () => load('', { HAPROXY_SYNC_LOG_LEVEL: 'loud' }), 'CONFIG_INVALID', /^environment HAPROXY_SYNC_LOG_LEVEL: log\.level: must be one of/);
  fails(t, () => load('', {}, { 'haproxy.spareSlots': '5000' }), 'CONFIG_INVALID', /^flag --haproxy-spare-slots: haproxy\.spareSlots: /);
});

t.test('an unknown field names the file and the field', async (t) => {
  const file = configFile('haproxy:\n  spareslots: 3\n');
  fails(t, () => loadConfig({ file, required: true, env: {}, flags: {} }), 'CONFIG_INVALID', `config file ${file}: haproxy.spareslots: unknown field`);
  const top = configFile('etcd:\n  prefix: /x/\nhaproxi: {}\n');
  fails(t, () => loadConfig({ file: top, required: true, env: {}, flags: {} }), 'CONFIG_INVALID', `config file ${top}: haproxi: unknown field`);
  const tls = configFile('etcd:\n  tls:\n    cafile: /ca.pem\n');
  fails(t, () => loadConfig({ file: tls, required: true, env: {}, flags: {} }), 'CONFIG_INVALID', `config file ${tls}: etcd.tls.cafile: unknown field`);
});

t.test('a bad type names the file and the field', async (t) => {
  const file = configFile('haproxy:\n  spareSlots: "x"\n');
  fails(t, () => loadConfig({ file, required: true, env: {}, flags: {} }), 'CONFIG_INVALID', `config file ${file}: haproxy.spareSlots: must be a whole number`);
  fails(t, () => load('haproxy:\n  spareSlots: 1.5\n'), 'CONFIG_INVALID', /: haproxy\.spareSlots: must be a whole number$/);
  fails(t, () => load('haproxy:\n  spareSlots: 1001\n'), 'CONFIG_INVALID', /: haproxy\.spareSlots: must be a whole number from 0 to 1000$/);
  fails(t, () => load('haproxy:\n  bind: ":80"\n'), 'CONFIG_INVALID', /: haproxy\.bind: must be a list of strings$/);
  fails(t, () => load('haproxy:\n  bind: []\n'), 'CONFIG_INVALID', /: haproxy\.bind: needs at least one bind line$/);
  fails(t, () => load('haproxy: ":80"\n'), 'CONFIG_INVALID', /: haproxy: must be a mapping$/);
  fails(t, () => load('kubernetes:\n  inCluster: "yes"\n'), 'CONFIG_INVALID', /: kubernetes\.inCluster: must be true or false$/);
  fails(t, () => load('node: ""\n'), 'CONFIG_INVALID', /: node: must be a non-empty string$/);
  fails(t, () => load('node: "lb 1"\n'), 'CONFIG_INVALID', /: node: must be letters, digits/);
  fails(t, () => load('log:\n  level: loud\n'), 'CONFIG_INVALID', /: log\.level: must be one of trace, debug, info, warn, error, fatal, silent$/);
  fails(t, () => load('etcd:\n  prefix: haproxy-sync\n'), 'CONFIG_INVALID', /: etcd\.prefix: must start and end with "\/"/);
  fails(t, () => load('etcd:\n  endpoints: ["127.0.0.1:2379"]\n'), 'CONFIG_INVALID', /: etcd\.endpoints: "127\.0\.0\.1:2379" must be like http:\/\/127\.0\.0\.1:2379$/);
  fails(t, () => load('etcd:\n  endpoints: []\n'), 'CONFIG_INVALID', /: etcd\.endpoints: needs at least one endpoint$/);
  fails(t, () => load('sync:\n  debounceMs: 100\n  maxDelayMs: 50\n'), 'CONFIG_INVALID', /: sync\.maxDelayMs: must be at least sync\.debounceMs$/);
  fails(t, () => load('kubernetes: {}\n'), 'CONFIG_INVALID', /: kubernetes: set kubeconfig or inCluster: true$/);
  fails(t, () => load('- a\n- b\n'), 'CONFIG_INVALID', /: must be a YAML mapping$/);
});

t.test('api.listen: non-loopback needs a token file', async (t) => {
  const file = configFile('api:\n  listen: 0.0.0.0:9180\n');
  fails(t, () => loadConfig({ file, required: true, env: {}, flags: {} }), 'CONFIG_INVALID', `config file ${file}: api.tokenFile: is required when api.listen (0.0.0.0:9180) is not a loopback address`);
  fails(t, () => load('api:\n  listen: ":9180"\n'), 'CONFIG_INVALID', /api\.tokenFile: is required/, 'an empty host listens everywhere');
  fails(t, () => load('api:\n  listen: "[::]:9180"\n'), 'CONFIG_INVALID', /api\.tokenFile: is required/);
  const withToken = configFile('api:\n  listen: 0.0.0.0:9180\n  tokenFile: token\n');
  t.equal(loadConfig({ file: withToken, required: true, env: {}, flags: {} }).api.tokenFile, join(withToken, '..', 'token'));
  t.equal(load('api:\n  listen: "127.0.0.2:9180"\n').api.listen, '127.0.0.2:9180');
  t.equal(load('api:\n  listen: "[::1]:9180"\n').api.listen, '[::1]:9180');
  t.equal(load('api:\n  listen: "localhost:9180"\n').api.listen, 'localhost:9180');
  fails(t, () => load('api:\n  listen: "9180"\n'), 'CONFIG_INVALID', /: api\.listen: must be "host:port"/);
});

t.test('a host name that merely starts with "127." is not loopback', async (t) => {
  t.equal(isLoopback('127.attacker.example'), false);
  fails(t, () => load('api:\n  listen: "127.attacker.example:9180"\n'), 'CONFIG_INVALID', /api\.tokenFile: is required/);
});

t.test('parseListen and isLoopback', async (t) => {
  t.strictSame(parseListen('127.0.0.1:9180'), { host: '127.0.0.1', port: 9180 });
  t.strictSame(parseListen('[::1]:80'), { host: '::1', port: 80 });
  t.strictSame(parseListen(':80'), { host: '', port: 80 });
  t.equal(parseListen('127.0.0.1'), null);
  t.equal(parseListen('127.0.0.1:99999'), null);
  t.equal(parseListen('127.0.0.1:70000'), null);
  t.equal(isLoopback('127.0.0.1'), true);
  t.equal(isLoopback('127.1.2.3'), true);
  t.equal(isLoopback('::1'), true);
  t.equal(isLoopback('localhost'), true);
  t.equal(isLoopback('0.0.0.0'), false);
  t.equal(isLoopback(''), false);
  t.equal(isLoopback('10.0.0.1'), false);
});

t.test('invalid YAML → CONFIG_UNREADABLE naming the file', async (t) => {
  const file = configFile('haproxy: [\n');
  fails(t, () => loadConfig({ file, required: true, env: {}, flags: {} }), 'CONFIG_UNREADABLE', new RegExp(`^config file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid YAML \\(.+\\)$`));
  fails(t, () => load('a: b\n  c: d\n'), 'CONFIG_UNREADABLE', /: not valid YAML \(/);
});

t.test('a missing explicit file → CONFIG_UNREADABLE naming it', async (t) => {
  const file = join(root, 'nope', 'config.yaml');
  fails(t, () => loadConfig({ file, required: true, env: {}, flags: {} }), 'CONFIG_UNREADABLE', new RegExp(`^config file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read it \\(ENOENT`));
});

t.test('a bind line holding "#" or a quote is rejected; several words are fine', async (t) => {
  fails(t, () => load('haproxy:\n  bind: [":80 # public"]\n'), 'CONFIG_INVALID', /: haproxy\.bind: ":80 # public" must be words without quotes, "#" or "\\"$/);
  fails(t, () => load('haproxy:\n  bind: [":80#x"]\n'), 'CONFIG_INVALID', /: haproxy\.bind: /);
  fails(t, () => load("haproxy:\n  bind: [\":443 crt '/a b.pem'\"]\n"), 'CONFIG_INVALID', /: haproxy\.bind: /);
  const c = load('haproxy:\n  bind: [":80", " [::]:443   ssl crt /etc/ssl/site.pem alpn h2,http/1.1 "]\n');
  t.strictSame(bindWords(c), [[':80'], ['[::]:443', 'ssl', 'crt', '/etc/ssl/site.pem', 'alpn', 'h2,http/1.1']]);
});

t.test('paths pasted into haproxy.cfg must be safe words', async (t) => {
  fails(t, () => load('haproxy:\n  adminSocket: "/run/my admin.sock"\n'), 'CONFIG_INVALID', /: haproxy\.adminSocket: must not contain spaces, quotes, "#" or "\\"$/);
  fails(t, () => load('haproxy:\n  mapsDir: "/etc/haproxy/maps#x"\n'), 'CONFIG_INVALID', /: haproxy\.mapsDir: must not contain/);
});

t.test('the result is frozen all the way down', async (t) => {
  const c = load('kubernetes:\n  inCluster: true\n  namespaces: [shop]\n');
  t.ok(Object.isFrozen(c));
  t.ok(Object.isFrozen(c.haproxy));
  t.ok(Object.isFrozen(c.haproxy.bind));
  t.ok(Object.isFrozen(c.etcd.endpoints));
  t.ok(Object.isFrozen(c.kubernetes?.namespaces));
  t.throws(() => {
    (c.haproxy as { spareSlots: number }).spareSlots = 99;
  }, TypeError);
  t.throws(() => {
    (c.haproxy.bind as string[]).push(':81');
  }, TypeError);
  t.equal(c.haproxy.spareSlots, 4);
});

t.test('environment and flag names derive from the config paths', async (t) => {
  t.equal(envNameFor('etcd.endpoints'), 'HAPROXY_SYNC_ETCD_ENDPOINTS');
  t.equal(envNameFor('haproxy.spareSlots'), 'HAPROXY_SYNC_HAPROXY_SPARE_SLOTS');
  t.equal(envNameFor('etcd.auth.passwordFile'), 'HAPROXY_SYNC_ETCD_AUTH_PASSWORD_FILE');
  t.equal(flagNameFor('haproxy.spareSlots'), 'haproxy-spare-slots');
  t.equal(flagNameFor('api.tokenFile'), 'api-token-file');
  const flags = configFlags();
  t.equal(flags.get('haproxy-spare-slots'), 'haproxy.spareSlots');
  t.equal(flags.get('etcd-endpoints'), 'etcd.endpoints');
  t.equal(flags.get('templates'), 'templates');
  t.equal(flags.size, new Set(flags.values()).size, 'one flag per field');
});

t.test('parseArgs: positional words, --flag value, --flag=value, switches', async (t) => {
  const opts = { flags: ['config', 'haproxy-spare-slots'], switches: ['force', 'help'] };
  const a = parseArgs(['flip', 'shop.example.com', 'green', '--force', '--config', '/etc/c.yaml', '--haproxy-spare-slots=3', '-v'], opts);
  t.strictSame(a.positional, ['flip', 'shop.example.com', 'green', '-v'], 'a single dash is a word');
  t.strictSame(a.flags, { config: '/etc/c.yaml', 'haproxy-spare-slots': '3' });
  t.strictSame([...a.switches], ['force']);
  t.strictSame(parseArgs(['--config='], opts).flags, { config: '' }, 'an empty value given with "="');
  fails(t, () => parseArgs(['--bogus'], opts), 'USAGE', 'unknown flag --bogus (see --help)');
  fails(t, () => parseArgs(['--config'], opts), 'USAGE', '--config needs a value');
  fails(t, () => parseArgs(['--force=yes'], opts), 'USAGE', '--force takes no value');
});

t.test('HAProxy process settings: Debian\'s by default, each off with "", anything unsafe refused', async (t) => {
  const off = load('haproxy:\n  user: ""\n  group: ""\n  chroot: ""\n  log: ""\n  errorfiles: ""\n');
  t.match(off.haproxy, { user: '', group: '', chroot: '', log: '', errorfiles: '' });
  t.equal(load('haproxy:\n  log: 10.0.0.5:514\n').haproxy.log, '10.0.0.5:514', 'a remote syslog');
  fails(t, () => load('haproxy:\n  user: "root; x"\n'), 'CONFIG_INVALID', /haproxy\.user: must be a user or group name/);
  fails(t, () => load('haproxy:\n  chroot: var/lib/haproxy\n'), 'CONFIG_INVALID', /haproxy\.chroot: must be an absolute path/);
  fails(t, () => load('haproxy:\n  errorfiles: "/etc/haproxy/my errors"\n'), 'CONFIG_INVALID', /haproxy\.errorfiles: must not contain spaces/);
  fails(t, () => load('haproxy:\n  log: "syslog please"\n'), 'CONFIG_INVALID', /haproxy\.log: must be a syslog socket path/);
});
