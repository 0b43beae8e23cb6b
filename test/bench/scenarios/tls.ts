/**
 * HTTPS at scale: 1,000 vhosts, each with its own certificate from the
 * certificate directory. Cold start (daemon start → every host served over
 * HTTPS with its certificate), certificate rotations (file written → the new
 * serial served on a new connection, over the Runtime API), daemon RSS.
 * Certificates are self-signed with one shared key, made by openssl before
 * the clock starts. BENCH_TLS_VHOSTS and BENCH_TLS_ROTATIONS change the sizes.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitUntil } from '../../../src/demo/processes.ts';
import { PREFIX, startEnv } from '../../helpers/env.ts';
import { httpsGet } from '../../helpers/https.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import type { Scenario } from '../run.ts';
import { round, summary } from '../stats.ts';
import { Teardowns } from '../teardowns.ts';

const run = promisify(execFile);
const VHOSTS = Number(process.env['BENCH_TLS_VHOSTS'] ?? 1000);
const ROTATIONS = Number(process.env['BENCH_TLS_ROTATIONS'] ?? 30);
const SYNC = { debounceMs: 50, maxDelayMs: 1000 };

export const scenario: Scenario = {
  name: 'tls',
  description:
    `${VHOSTS} vhosts with a certificate file each (tls.dir) on an HTTPS frontend: cold start (daemon start → every host served over HTTPS with its own serial), ` +
    `${ROTATIONS} certificate rotations (file written → new serial served on a new connection; Runtime API, reload count must not move), daemon RSS. ` +
    'The daemon runs in the bench process, so RSS includes the harness.',
  async run() {
    const teardowns = new Teardowns();
    try {
      return await measure(teardowns);
    } finally {
      await teardowns.run();
    }
  },
};

interface Made {
  readonly pem: string;
  readonly serial: string;
}

async function measure(teardowns: Teardowns): Promise<Record<string, unknown>> {
  const dir = tmpDir(teardowns, 'hs-bench-tls-');
  const certFiles = join(dir, 'certs-in');
  mkdirSync(certFiles);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'shared.key')]);
  const key = readFileSync(join(dir, 'shared.key'), 'utf8');
  const host = (i: number): string => `h${i}.bench.test`;
  const makeStarted = performance.now();
  const certs = await inParallel(VHOSTS + ROTATIONS, 4, (i) => selfSigned(dir, key, host(i % VHOSTS), i));
  const makeSeconds = (performance.now() - makeStarted) / 1000;
  for (let i = 0; i < VHOSTS; i++) writeFileSync(join(certFiles, `${host(i)}.pem`), certs[i]?.pem ?? '');

  const httpsPort = await freePort();
  const env = await startEnv(teardowns, {
    services: { 'shop/web-blue': ['blue', 1] },
    config: { sync: SYNC, tls: { dir: certFiles }, haproxy: { bindTls: [`127.0.0.1:${httpsPort}`], certsDir: join(dir, 'haproxy-certs') } },
  });
  const spec = (h: string): string => JSON.stringify({ backends: { blue: { service: 'shop/web-blue', port: 'http' } }, tls: { file: `${h}.pem` } });
  for (let i = 0; i < VHOSTS; i += 100) {
    const puts = [];
    for (let j = i; j < Math.min(VHOSTS, i + 100); j++) puts.push(env.client.put(`${PREFIX}vhosts/${host(j)}/spec`).value(spec(host(j))));
    await env.client.if(`${PREFIX}none`, 'Version', '==', 0).then(...puts).commit();
  }
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  await env.startDaemon();
  const last = VHOSTS - 1;
  await waitUntil('every host over HTTPS', async () => (await httpsGet(httpsPort, host(last), { insecure: true }).catch(() => null))?.serial === certs[last]?.serial, 300000);
  const coldStartSeconds = (performance.now() - started) / 1000;
  const sampled = [0, Math.floor(VHOSTS / 2), last];
  for (const i of sampled) if ((await httpsGet(httpsPort, host(i), { insecure: true })).serial !== certs[i]?.serial) throw new Error(`${host(i)}: wrong certificate after cold start`);
  const rssAfterStart = process.memoryUsage().rss;

  const reloads = await env.reloads();
  const rotations: number[] = [];
  for (let r = 0; r < ROTATIONS; r++) {
    const next = certs[VHOSTS + r];
    const h = host(r % VHOSTS);
    if (!next) break;
    const t0 = performance.now();
    writeFileSync(join(certFiles, `${h}.pem`), next.pem);
    await waitUntil(`${h} rotated`, async () => (await httpsGet(httpsPort, h, { insecure: true }).catch(() => null))?.serial === next.serial, 30000);
    rotations.push(performance.now() - t0);
  }
  return {
    vhosts: VHOSTS,
    certificatesMadeSeconds: round(makeSeconds),
    coldStartSeconds: round(coldStartSeconds),
    rotationMs: summary(rotations),
    reloadsDuringRotations: (await env.reloads()) - reloads,
    rssMiB: { beforeDaemon: mib(rssBefore), afterColdStart: mib(rssAfterStart), afterRotations: mib(process.memoryUsage().rss) },
  };
}

async function selfSigned(dir: string, key: string, name: string, i: number): Promise<Made> {
  const keyFile = join(dir, 'shared.key');
  const { stdout } = await run('openssl', ['req', '-x509', '-key', keyFile, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-days', '30', '-set_serial', String(1000 + i)]);
  return { pem: stdout + key, serial: (1000 + i).toString(16).toUpperCase() };
}

async function inParallel<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
