/**
 * A test world for certificate rotation: HTTPS on, Secrets of namespace shop
 * and a certificate directory read, and a check that a rotation under HTTPS
 * keep-alive and new-connection load is served without a reload or a failed
 * request.
 */
import { readFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitUntil } from '../../src/demo/processes.ts';
import { makePki, type Leaf, type Pki } from './certs.ts';
import { startEnv, type TestEnv } from './env.ts';
import { httpsGet, startHttpsLoad } from './https.ts';
import { tmpDir, type Teardown } from './tmp.ts';

export interface TlsWorld {
  readonly env: TestEnv;
  readonly pki: Pki;
  readonly httpsPort: number;
  /** The directory of tls.dir. */
  readonly certFiles: string;
  /** haproxy.certsDir. */
  readonly certsDir: string;
}

export async function startTlsWorld(t: Teardown, beforeStart: (pki: Pki, certFiles: string) => void = () => {}): Promise<TlsWorld> {
  const dir = tmpDir(t);
  const pki = makePki(join(dir, 'pki'));
  const certFiles = join(dir, 'certs-in');
  mkdirSync(certFiles);
  beforeStart(pki, certFiles);
  const certsDir = join(dir, 'haproxy-certs');
  const httpsPort = await freePort();
  const env = await startEnv(t, {
    kubernetes: {},
    config: {
      kubernetes: { secretNamespaces: ['shop'] },
      tls: { dir: certFiles },
      haproxy: { bindTls: [`127.0.0.1:${httpsPort}`], certsDir },
    },
  });
  return { env, pki, httpsPort, certFiles, certsDir };
}

export async function untilSerial(world: TlsWorld, host: string, serial: string): Promise<void> {
  await waitUntil(`${host} serving serial ${serial}`, async () => (await httpsGet(world.httpsPort, host, { ca: world.pki.caCert }).catch(() => null))?.serial === serial, 15000);
}

function runtimeApplies(env: TestEnv): number {
  return env.logs.filter((l) => l['msg'] === 'applied by runtime').length;
}

interface Assert {
  equal(a: unknown, b: unknown, message: string): void;
  ok(v: unknown, message: string): void;
}

/** Rotates `host` to `next` with `change()` under load, and checks what the issue of renewals needs. */
export async function rotateUnderLoad(t: Assert, world: TlsWorld, host: string, next: Leaf, change: () => void): Promise<void> {
  const { env } = world;
  const reloads = await env.reloads();
  const runtime = runtimeApplies(env);
  const load = startHttpsLoad({ port: world.httpsPort, host, ca: world.pki.caCert, keepAlive: 3, fresh: 3, maxMs: 30000 });
  await new Promise((r) => setTimeout(r, 300));
  change();
  await untilSerial(world, host, next.serial);
  await new Promise((r) => setTimeout(r, 300));
  const result = await load.stop();
  t.equal(result.failed, 0, `${host}: no request failed (${JSON.stringify(result.failures)}; ${result.ok} ok)`);
  t.ok(result.ok > 20, `${host}: the load ran (${result.ok} requests)`);
  t.ok(result.serials.has(next.serial), `${host}: the load saw the new serial on new connections`);
  t.equal(await env.reloads(), reloads, `${host}: HAProxy did not reload`);
  t.ok(runtimeApplies(env) > runtime, `${host}: applied over the Runtime API`);
  const file = readFileSync(join(world.certsDir, 'hosts', `${host}.pem`), 'utf8');
  t.ok(file.includes(next.cert.trim().split('\n')[1] ?? '?'), `${host}: the new certificate is on disk for the next reload`);
}
