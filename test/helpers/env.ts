/**
 * A whole test world on loopback: a real etcd, pods as tiny HTTP servers, a
 * static services file or a fake Kubernetes API server, and one or more
 * load-balancer nodes, each a real HAProxy (master-worker) with its own
 * daemon, started in-process or as a child process. Everything stops at
 * teardown.
 */
import { PLAIN_PROCESS } from '../../src/core/model.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { stringify } from 'yaml';
import { loadConfig, type Config } from '../../src/config.ts';
import { startDaemon, type Daemon, type DaemonOptions } from '../../src/commands/run.ts';
import { httpGet, type GetResult } from '../../src/demo/http-get.ts';
import { startPod, type Pod } from '../../src/demo/pods.ts';
import { haproxyBinary } from '../../src/demo/haproxy-binary.ts';
import { bootstrapConfig, freePort, launch, startEtcd, startHaproxy, waitUntil, type EtcdProcess, type HaproxyProcess, type Managed } from '../../src/demo/processes.ts';
import { MasterClient } from '../../src/haproxy/master.ts';
import { FakeApiServer, type FakeApiServerOptions } from '../fixtures/fake-apiserver.ts';
import { applyService, publishPods, type PublishOptions } from './kube.ts';
import { captureLogs } from './logs.ts';
import { tmpDir, type Teardown } from './tmp.ts';

export const PREFIX = '/haproxy-sync/';
export const BIN = join(import.meta.dirname, '../../bin/haproxy-sync.js');

export interface EnvOptions {
  /** Pods per colour per service: { 'shop/web-blue': ['blue', 2] }. */
  readonly services?: Readonly<Record<string, readonly [string, number]>>;
  /** Extra daemon config, merged over the generated one (for every node). */
  readonly config?: Record<string, unknown>;
  readonly withStatic?: boolean;
  /** The first node's name (default test-lb). */
  readonly node?: string;
  /**
   * Endpoints from a fake Kubernetes API server instead of the static file: pods get pod IPs
   * (loopback addresses) sharing one port, and each service is published as a Service with an
   * EndpointSlice and an Endpoints object.
   */
  readonly kubernetes?: KubeEnvOptions;
}

export interface KubeEnvOptions {
  readonly namespaces?: readonly string[];
  readonly endpoints?: 'slices' | 'endpoints';
  /** The token written to the kubeconfig; default the server's. null: no credentials. */
  readonly token?: string | null;
  readonly server?: FakeApiServerOptions;
  /** Default 5, so a stall is found within 10 s. */
  readonly watchTimeoutSeconds?: number;
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** One load balancer: a HAProxy, its daemon config and the daemon. */
export interface LbNode {
  readonly name: string;
  readonly haproxy: HaproxyProcess;
  readonly httpPort: number;
  readonly apiPort: number;
  readonly configFile: string;
  readonly paths: { readonly config: string; readonly mapsDir: string; readonly master: string; readonly admin: string; readonly services: string };
  config(): Config;
  get(host: string, path?: string): Promise<GetResult>;
  /** Polls until a request for `host` answers a body starting with `body` (and/or with `status`). */
  until(host: string, expect: { body?: string; status?: number }, timeoutMs?: number): Promise<void>;
  /** The distinct answers ("blue blue-1", or "HTTP 503") of `requests` requests for `host`, sorted. */
  servedBy(host: string, requests?: number): Promise<string[]>;
  /** Polls until exactly these pods answer for `host`. */
  untilServedBy(host: string, pods: readonly Pod[], timeoutMs?: number): Promise<void>;
  startDaemon(opts?: DaemonOptions): Promise<Daemon>;
  /** Log records of the in-process daemon, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** The daemon as a child process (`haproxy-sync run`), for signal and crash tests; `env` is added to the environment. */
  spawnDaemon(opts?: { env?: Readonly<Record<string, string>> }): Managed;
  reloads(): Promise<number>;
  /** A call to the daemon's HTTP API; JSON in, JSON out. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  /** A GET to the daemon's HTTP API, the answer as text (for /metrics). */
  apiText(path: string): Promise<GetResult>;
}

/** The world plus its first node, whose fields it carries for single-node tests. */
export interface TestEnv extends LbNode {
  readonly dir: string;
  readonly etcd: EtcdProcess;
  readonly client: Etcd3;
  readonly pods: Pod[];
  /** The fake API server and the kubeconfig for it, with the kubernetes option. */
  readonly kube: FakeApiServer | null;
  readonly kubeconfig: string | null;
  /** Starts one more pod (on the next pod IP in Kubernetes mode). */
  startPod(colour: string, name: string): Promise<Pod>;
  /** Publishes pods as the ready (or not) endpoints of a Service on the fake API server. */
  publish(ref: string, pods: readonly Pod[], opts?: PublishOptions): void;
  /** Writes the static services file: service → list of pods. */
  writeServices(services: Readonly<Record<string, readonly Pod[]>>): void;
  putSpec(host: string, spec: unknown): Promise<void>;
  putActive(host: string, colour: string): Promise<void>;
  put(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
  /** Another load balancer on the same etcd and pods, with its own HAProxy, ports and directory. */
  addNode(name: string): Promise<LbNode>;
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

  const kube = opts.kubernetes ? await FakeApiServer.start(opts.kubernetes.server) : null;
  if (kube) t.teardown(() => kube.stop());
  const kubeconfig = kube ? await kube.writeKubeconfig(join(dir, 'kube'), opts.kubernetes?.token === undefined ? {} : { token: opts.kubernetes.token }) : null;

  const pods: Pod[] = [];
  t.teardown(async () => void (await Promise.all(pods.map((p) => p.close()))));
  const nextPod = kube ? await podAddresses() : async () => ({ address: '127.0.0.1', port: 0 });
  const addPod = async (colour: string, name: string): Promise<Pod> => {
    const at = await nextPod();
    const pod = await startPod(colour, name, at.port, at.address);
    pods.push(pod);
    return pod;
  };
  const publish = (ref: string, list: readonly Pod[], publishOpts?: PublishOptions): void => {
    if (!kube) throw new Error('publish needs the kubernetes option');
    publishPods(kube, ref, list, publishOpts);
  };
  const byService: Record<string, Pod[]> = {};
  for (const [service, [colour, count]] of Object.entries(opts.services ?? { 'shop/web-blue': ['blue', 2], 'shop/web-green': ['green', 2] })) {
    byService[service] = [];
    for (let i = 1; i <= count; i++) byService[service].push(await addPod(colour, `${colour}-${i}`));
    if (kube) {
      applyService(kube, service);
      publish(service, byService[service]);
    }
  }

  const servicesFile = join(dir, 'services.yaml');
  const writeServices = (services: Readonly<Record<string, readonly Pod[]>>): void => {
    const doc: Record<string, { http: string[] }> = {};
    for (const [svc, list] of Object.entries(services)) doc[svc] = { http: list.map((p) => `127.0.0.1:${p.port}`) };
    writeFileSync(servicesFile, stringify({ services: doc }));
  };
  writeServices(byService);

  const world: World = { etcd, servicesFile, kubeconfig, opts };
  const first = await startNode(t, world, opts.node ?? 'test-lb', dir);
  return {
    ...first,
    dir, etcd, client, pods, kube, kubeconfig, writeServices,
    startPod: addPod,
    publish,
    putSpec: async (host, spec) => void (await client.put(`${PREFIX}vhosts/${host}/spec`).value(typeof spec === 'string' ? spec : JSON.stringify(spec))),
    putActive: async (host, colour) => void (await client.put(`${PREFIX}vhosts/${host}/active`).value(colour)),
    put: async (key, value) => void (await client.put(`${PREFIX}${key}`).value(value)),
    del: async (key) => void (await client.delete().key(`${PREFIX}${key}`)),
    addNode: (name) => {
      const nodeDir = join(dir, name);
      mkdirSync(nodeDir);
      return startNode(t, world, name, nodeDir);
    },
  };
}

/** A world of `names.length` load balancers; nodes[0] is the env itself. */
export async function startFleet(t: Teardown, names: readonly string[], opts: EnvOptions = {}): Promise<{ env: TestEnv; nodes: LbNode[] }> {
  const [first = 'lb-1', ...rest] = names;
  const env = await startEnv(t, { ...opts, node: first });
  const nodes: LbNode[] = [env];
  for (const name of rest) nodes.push(await env.addNode(name));
  return { env, nodes };
}

interface World {
  readonly etcd: EtcdProcess;
  readonly servicesFile: string;
  readonly kubeconfig: string | null;
  readonly opts: EnvOptions;
}

async function startNode(t: Teardown, world: World, name: string, dir: string): Promise<LbNode> {
  const paths = {
    config: join(dir, 'haproxy.cfg'),
    mapsDir: join(dir, 'maps'),
    master: join(dir, 'master.sock'),
    admin: join(dir, 'admin.sock'),
    services: world.servicesFile,
  };
  writeFileSync(paths.config, bootstrapConfig(paths.admin));
  const haproxy = await startHaproxy({ config: paths.config, masterSocket: paths.master, pidFile: join(dir, 'haproxy.pid') });
  t.teardown(() => haproxy.stop());

  const httpPort = await freePort();
  const apiPort = await freePort();
  const configFile = join(dir, 'config.yaml');
  const base = {
    node: name,
    etcd: { endpoints: [world.etcd.endpoint], prefix: PREFIX },
    ...((world.opts.withStatic ?? !world.kubeconfig) ? { static: { file: paths.services } } : {}),
    ...(world.kubeconfig
      ? {
          kubernetes: {
            kubeconfig: world.kubeconfig,
            namespaces: world.opts.kubernetes?.namespaces ?? [],
            endpoints: world.opts.kubernetes?.endpoints ?? 'slices',
            watchTimeoutSeconds: world.opts.kubernetes?.watchTimeoutSeconds ?? 5,
          },
        }
      : {}),
    haproxy: { binary: haproxyBinary(), config: paths.config, mapsDir: paths.mapsDir, masterSocket: paths.master, adminSocket: paths.admin, bind: [`127.0.0.1:${httpPort}`], ...PLAIN_PROCESS },
    state: { dir: join(dir, 'state') },
    sync: { debounceMs: 20, maxDelayMs: 200 },
    api: { listen: `127.0.0.1:${apiPort}` },
    log: { level: process.env['TEST_LOG_LEVEL'] ?? 'silent' },
  };
  writeFileSync(configFile, stringify(deepMerge(base, world.opts.config ?? {})));
  const config = (): Config => loadConfig({ file: configFile, required: true, env: {}, flags: {} });
  // A new connection per request: a kept-alive one may still be served by a draining old worker.
  const fresh = new Agent({ keepAlive: false });
  const get = (host: string, path = '/'): Promise<GetResult> => httpGet(`http://127.0.0.1:${httpPort}${path}`, { host, agent: fresh });

  const { log, logs } = captureLogs();
  const servedBy = async (host: string, requests = 10): Promise<string[]> => {
    const seen = new Set<string>();
    for (let i = 0; i < requests; i++) {
      const res = await get(host);
      seen.add(res.status === 200 ? res.body.trim() : `HTTP ${res.status}`);
    }
    return [...seen].sort();
  };
  return {
    name, haproxy, httpPort, apiPort, configFile, paths, config, get, logs,
    until: (host, expect, timeoutMs = 15000) =>
      waitUntil(`${name}: ${host} answering ${JSON.stringify(expect)}`, async () => {
        const res = await get(host);
        return (expect.status === undefined || res.status === expect.status) && (expect.body === undefined || res.body.startsWith(expect.body));
      }, timeoutMs),
    servedBy,
    untilServedBy: async (host, expected, timeoutMs = 15000) => {
      const want = expected.map(podAnswer).sort().join(', ');
      let last: string[] = [];
      await waitUntil(`${name}: ${host} served by ${want}`, async () => {
        last = await servedBy(host, Math.max(6, expected.length * 4));
        return last.join(', ') === want;
      }, timeoutMs).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)}; last served by ${last.join(', ')}`);
      });
    },
    startDaemon: async (opts) => {
      const daemon = await startDaemon(config(), log, opts);
      t.teardown(() => daemon.stop());
      return daemon;
    },
    spawnDaemon: (opts = {}) => {
      const proc = launch(process.execPath, [BIN, 'run', '--config', configFile], { env: { ...process.env, ...opts.env } });
      t.teardown(() => proc.stop());
      return proc;
    },
    apiText: (path) => httpGet(`http://127.0.0.1:${apiPort}${path}`),
    reloads: async () => (await new MasterClient({ socket: paths.master }).showProc()).master.reloads,
    api: async (method, path, body, headers = {}) => {
      const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text === '' ? null : (JSON.parse(text) as unknown) };
    },
  };
}

/**
 * Pod IPs for one test world: loopback addresses in a /24 picked at random (so parallel
 * test files do not collide), all on one port, as pods of one Deployment listen.
 */
async function podAddresses(): Promise<() => Promise<{ address: string; port: number }>> {
  const net = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}`;
  const port = await freePort();
  let host = 1;
  return async () => {
    if (host > 254) throw new Error('out of pod addresses');
    return { address: `${net}.${host++}`, port };
  };
}

/** What a pod answers: its colour and name. */
export function podAnswer(pod: Pod): string {
  return `${pod.colour} ${pod.name}`;
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
