/**
 * `npm run demo`: a whole setup on one machine, in a temporary directory: a
 * local etcd, HAProxy in master-worker mode, two pods of each colour, a
 * static services file, the shop.example.com vhost in etcd, and the daemon.
 * Ctrl-C stops everything it started and removes the directory.
 */
import { PLAIN_PROCESS } from '../core/model.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { startDaemon, type Daemon } from '../commands/run.ts';
import { createEtcdClient } from '../sources/etcd-client.ts';
import { haproxyBinary } from './haproxy-binary.ts';
import { ensureSystemPackages } from './install.ts';
import { httpGet } from './http-get.ts';
import { bootstrapConfig, freePort, startEtcd, startHaproxy, waitUntil, type Managed } from './processes.ts';
import { startPod, type Pod } from './pods.ts';

const HOST = 'shop.example.com';
const PREFIX = '/haproxy-sync/';

async function main(): Promise<number> {
  const missing = ensureSystemPackages();
  if (missing) {
    process.stderr.write(`demo: ${missing}\n`);
    return 1;
  }
  const dir = await mkdtemp(join(tmpdir(), 'haproxy-sync-demo-'));
  const stops: Array<() => Promise<void>> = [() => rm(dir, { recursive: true, force: true })];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const demo = await setUp(dir, stops);
    printInstructions(demo);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.stdout.write('\nstopping the demo...\n');
    await stopAll();
    return 0;
  } catch (err) {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await stopAll();
    return 1;
  }
}

interface Demo {
  readonly etcdEndpoint: string;
  readonly httpPort: number;
  readonly apiPort: number;
  readonly dir: string;
}

async function setUp(dir: string, stops: Array<() => Promise<void>>): Promise<Demo> {
  const etcd = await startEtcd({ dataDir: join(dir, 'etcd'), clientPort: await freePort(2379) });
  stops.push(etcd.stop);
  const pods: Pod[] = [];
  for (const colour of ['blue', 'green']) {
    for (const n of [1, 2]) pods.push(await startPod(colour, `${colour}-${n}`));
  }
  stops.push(async () => void (await Promise.all(pods.map((p) => p.close()))));
  const addresses = (colour: string): string[] => pods.filter((p) => p.colour === colour).map((p) => `127.0.0.1:${p.port}`);
  await writeFile(join(dir, 'services.yaml'), stringify({ services: { 'shop/web-blue': { http: addresses('blue') }, 'shop/web-green': { http: addresses('green') } } }));
  await seedEtcd(etcd.endpoint);

  const httpPort = await freePort(8080);
  const apiPort = await freePort(9180);
  const paths = { config: join(dir, 'haproxy.cfg'), master: join(dir, 'master.sock'), admin: join(dir, 'admin.sock') };
  await writeFile(paths.config, bootstrapConfig(paths.admin));
  const haproxy: Managed = await startHaproxy({ config: paths.config, masterSocket: paths.master, pidFile: join(dir, 'haproxy.pid') });
  stops.push(haproxy.stop);

  const configFile = join(dir, 'config.yaml');
  await writeFile(configFile, stringify({
    node: 'demo',
    etcd: { endpoints: [etcd.endpoint], prefix: PREFIX },
    static: { file: join(dir, 'services.yaml') },
    haproxy: { binary: haproxyBinary(), config: paths.config, mapsDir: join(dir, 'maps'), masterSocket: paths.master, adminSocket: paths.admin, bind: [`127.0.0.1:${httpPort}`], ...PLAIN_PROCESS },
    api: { listen: `127.0.0.1:${apiPort}` },
  }));
  const config = loadConfig({ file: configFile, required: true, env: {}, flags: {} });
  const daemon: Daemon = await startDaemon(config, createLogger('info'));
  stops.push(daemon.stop);
  await waitUntil('HAProxy serving shop.example.com', async () => (await get(httpPort)).startsWith('blue'), 30000, haproxy);
  return { etcdEndpoint: etcd.endpoint, httpPort, apiPort, dir };
}

async function seedEtcd(endpoint: string): Promise<void> {
  const client = createEtcdClient({ endpoints: [endpoint], prefix: PREFIX, tls: null, auth: null });
  const spec = {
    backends: { blue: { service: 'shop/web-blue', port: 'http' }, green: { service: 'shop/web-green', port: 'http' } },
    default: 'blue',
    health: { path: '/healthz', minReady: 1 },
    balance: 'roundrobin',
  };
  await client.put(`${PREFIX}vhosts/${HOST}/spec`).value(JSON.stringify(spec));
  await client.put(`${PREFIX}vhosts/${HOST}/active`).value('blue');
  client.close();
}

async function get(port: number): Promise<string> {
  return (await httpGet(`http://127.0.0.1:${port}/`, { host: HOST })).body;
}

function printInstructions(demo: Demo): void {
  process.stdout.write(`
haproxy-sync demo is running (files in ${demo.dir}).

  HAProxy serves ${HOST} from the blue pods:
    curl -H 'Host: ${HOST}' http://127.0.0.1:${demo.httpPort}/

  Flip to green with one etcd write:
    etcdctl --endpoints=${demo.etcdEndpoint} put ${PREFIX}vhosts/${HOST}/active green

  Or flip back through the API, which refuses an unhealthy colour and
  answers once HAProxy serves it:
    curl -X POST -H 'content-type: application/json' -d '{"to": "blue"}' http://127.0.0.1:${demo.apiPort}/v1/vhosts/${HOST}/flip

  See what the daemon thinks:
    curl http://127.0.0.1:${demo.apiPort}/readyz
    curl http://127.0.0.1:${demo.apiPort}/v1/vhosts
    curl http://127.0.0.1:${demo.apiPort}/v1/vhosts/${HOST}/history

  Or open the console in a browser, flip from there and watch the ledger:
    http://127.0.0.1:${demo.apiPort}/

Ctrl-C stops everything.
`);
}

process.exitCode = await main();
