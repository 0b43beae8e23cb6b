/**
 * A whole test world on loopback: a real etcd, a real HAProxy (master-worker),
 * pods as tiny HTTP servers, a static services file, and the daemon, started
 * in-process or as a child process. Everything stops at teardown.
 */
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { stringify } from 'yaml';
import { loadConfig, type Config } from '../../src/config.ts';
import { startDaemon, type Daemon, type DaemonOptions } from '../../src/commands/run.ts';
import { httpGet, type GetResult } from '../../src/demo/http-get.ts';
import { startPod, type Pod } from '../../src/demo/pods.ts';
import { freePort, launch, startEtcd, startHaproxy, waitUntil, type EtcdProcess, type HaproxyProcess, type Managed } from '../../src/demo/processes.ts';
import { MasterClient } from '../../src/haproxy/master.ts';
import { createLogger } from '../../src/log.ts';
import { tmpDir, type Teardown } from './tmp.ts';

export const PREFIX = '/haproxy-sync/';
export const BIN = join(import.meta.dirname, '../../bin/haproxy-sync.js');

export interface EnvOptions {
  /** Pods per colour per service: { 'shop/web-blue': ['blue', 2] }. */
  readonly services?: Readonly<Record<string, readonly [string, number]>>;
  /** Extra daemon config, merged over the generated one. */
  readonly config?: Record<string, unknown>;
  readonly withStatic?: boolean;
}

export interface TestEnv {
  readonly dir: string;
  readonly etcd: EtcdProcess;
  readonly client: Etcd3;
  readonly haproxy: HaproxyProcess;
  readonly httpPort: number;
  readonly apiPort: number;
  readonly pods: Pod[];
  readonly configFile: string;
  readonly paths: { readonly config: string; readonly mapsDir: string; readonly master: string; readonly admin: string; readonly services: string };
  config(): Config;
  /** Writes the static services file: service → list of pods. */
  writeServices(services: Readonly<Record<string, readonly Pod[]>>): void;
  putSpec(host: string, spec: unknown): Promise<void>;
  putActive(host: string, colour: string): Promise<void>;
  put(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
  get(host: string, path?: string): Promise<GetResult>;
  /** Polls until a request for `host` answers a body starting with `prefix` (or with `status`). */
  until(host: string, expect: { body?: string; status?: number }, timeoutMs?: number): Promise<void>;
  startDaemon(opts?: DaemonOptions): Promise<Daemon>;
  /** Log records of the in-process daemon, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** The daemon as a child process (`haproxy-sync run`), for signal and crash tests. */
  spawnDaemon(): Managed;
  reloads(): Promise<number>;
}

export function blueGreenSpec(name = 'web', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    backends: { blue: { service: `shop/${name}-blue`, port: 'http' }, green: { service: `shop/${name}-green`, port: 'http' } },
    default: 'blue',
    ...extra,
  };
}

export async function startEnv(t: Teardown, opts: EnvOptions = {}): Promise<TestEnv> {
  const dir = tmpDir(t);
  const etcd = await startEtcd({ dataDir: join(dir, 'etcd') });
  t.teardown(() => etcd.stop());
  const client = new Etcd3({ hosts: etcd.endpoint });
  t.teardown(() => client.close());

  const pods: Pod[] = [];
  const byService: Record<string, Pod[]> = {};
  for (const [service, [colour, count]] of Object.entries(opts.services ?? { 'shop/web-blue': ['blue', 2], 'shop/web-green': ['green', 2] })) {
    byService[service] = [];
    for (let i = 1; i <= count; i++) {
      const pod = await startPod(colour, `${colour}-${i}`);
      pods.push(pod);
      byService[service].push(pod);
    }
  }
  t.teardown(async () => void (await Promise.all(pods.map((p) => p.close()))));

  const paths = {
    config: join(dir, 'haproxy.cfg'),
    mapsDir: join(dir, 'maps'),
    master: join(dir, 'master.sock'),
    admin: join(dir, 'admin.sock'),
    services: join(dir, 'services.yaml'),
  };
  const writeServices = (services: Readonly<Record<string, readonly Pod[]>>): void => {
    const doc: Record<string, { http: string[] }> = {};
    for (const [svc, list] of Object.entries(services)) doc[svc] = { http: list.map((p) => `127.0.0.1:${p.port}`) };
    writeFileSync(paths.services, stringify({ services: doc }));
  };
  writeServices(byService);

  writeFileSync(paths.config, `global\n    stats socket ${paths.admin} mode 600 level admin expose-fd listeners\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n`);
  const haproxy = await startHaproxy({ config: paths.config, masterSocket: paths.master, pidFile: join(dir, 'haproxy.pid') });
  t.teardown(() => haproxy.stop());

  const httpPort = await freePort();
  const apiPort = await freePort();
  const configFile = join(dir, 'config.yaml');
  const base = {
    node: 'test-lb',
    etcd: { endpoints: [etcd.endpoint], prefix: PREFIX },
    ...(opts.withStatic === false ? {} : { static: { file: paths.services } }),
    haproxy: { config: paths.config, mapsDir: paths.mapsDir, masterSocket: paths.master, adminSocket: paths.admin, bind: [`127.0.0.1:${httpPort}`] },
    sync: { debounceMs: 20, maxDelayMs: 200 },
    api: { listen: `127.0.0.1:${apiPort}` },
    log: { level: process.env['TEST_LOG_LEVEL'] ?? 'silent' },
  };
  writeFileSync(configFile, stringify(deepMerge(base, opts.config ?? {})));
  const config = (): Config => loadConfig({ file: configFile, required: true, env: {}, flags: {} });
  // A new connection per request: a kept-alive one may still be served by a draining old worker.
  const fresh = new Agent({ keepAlive: false });
  const get = (host: string, path = '/'): Promise<GetResult> => httpGet(`http://127.0.0.1:${httpPort}${path}`, { host, agent: fresh });

  const logs: Array<Record<string, unknown>> = [];
  const logStream = {
    write(line: string): void {
      logs.push(JSON.parse(line) as Record<string, unknown>);
      if (process.env['TEST_LOG']) process.stderr.write(line);
    },
  };
  return {
    logs,
    dir, etcd, client, haproxy, httpPort, apiPort, pods, configFile, paths, config, writeServices, get,
    putSpec: async (host, spec) => void (await client.put(`${PREFIX}vhosts/${host}/spec`).value(typeof spec === 'string' ? spec : JSON.stringify(spec))),
    putActive: async (host, colour) => void (await client.put(`${PREFIX}vhosts/${host}/active`).value(colour)),
    put: async (key, value) => void (await client.put(`${PREFIX}${key}`).value(value)),
    del: async (key) => void (await client.delete().key(`${PREFIX}${key}`)),
    until: (host, expect, timeoutMs = 15000) =>
      waitUntil(`${host} answering ${JSON.stringify(expect)}`, async () => {
        const res = await get(host);
        return (expect.status === undefined || res.status === expect.status) && (expect.body === undefined || res.body.startsWith(expect.body));
      }, timeoutMs),
    startDaemon: async (daemonOpts) => {
      const daemon = await startDaemon(config(), createLogger('debug', logStream), daemonOpts);
      t.teardown(() => daemon.stop());
      return daemon;
    },
    spawnDaemon: () => {
      const proc = launch(process.execPath, [BIN, 'run', '--config', configFile]);
      t.teardown(() => proc.stop());
      return proc;
    },
    reloads: async () => {
      return (await new MasterClient({ socket: paths.master }).showProc()).master.reloads;
    },
  };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = isObj(cur) && isObj(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
