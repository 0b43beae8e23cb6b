// Renewed certificates reach HAProxy over the Runtime API: a Secret and a
// file are each rotated under HTTPS keep-alive and new-connection load; the
// new serial is served, HAProxy did not reload, and no request failed.
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitUntil } from '../../src/demo/processes.ts';
import { tlsSecret } from '../fixtures/fake-apiserver.ts';
import { makePki, type Leaf } from '../helpers/certs.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { httpsGet, startHttpsLoad } from '../helpers/https.ts';
import { tmpDir } from '../helpers/tmp.ts';

async function untilSerial(port: number, host: string, ca: string, serial: string): Promise<void> {
  await waitUntil(`${host} serving serial ${serial}`, async () => (await httpsGet(port, host, { ca }).catch(() => null))?.serial === serial, 15000);
}

function runtimeApplies(env: TestEnv): number {
  return env.logs.filter((l) => l['msg'] === 'applied by runtime').length;
}

t.test('a Secret and a file are rotated without a reload and without a failed request', async (t) => {
  const dir = tmpDir(t);
  const pki = makePki(join(dir, 'pki'));
  const certFiles = join(dir, 'certs-in');
  mkdirSync(certFiles);
  const certsDir = join(dir, 'haproxy-certs');
  const s1 = pki.leaf(['s.test']);
  const s2 = pki.leaf(['s.test']);
  const f1 = pki.leaf(['f.test']);
  const f2 = pki.leaf(['f.test']);
  writeFileSync(join(certFiles, 'f.pem'), f1.combined);
  const httpsPort = await freePort();
  const env = await startEnv(t, {
    kubernetes: {},
    config: {
      kubernetes: { secretNamespaces: ['shop'] },
      tls: { dir: certFiles },
      haproxy: { bindTls: [`127.0.0.1:${httpsPort}`], certsDir },
    },
  });
  const kube = env.kube;
  if (!kube) throw new Error('no fake API server');
  kube.apply('secrets', tlsSecret('shop', 's-tls', s1.chain, s1.key));
  await env.putSpec('s.test', blueGreenSpec('web', { tls: { secret: 'shop/s-tls' } }));
  await env.putSpec('f.test', blueGreenSpec('web', { tls: { file: 'f.pem' } }));
  await env.startDaemon();
  await untilSerial(httpsPort, 's.test', pki.caCert, s1.serial);
  await untilSerial(httpsPort, 'f.test', pki.caCert, f1.serial);

  const rotate = async (host: string, next: Leaf, change: () => void): Promise<void> => {
    const reloads = await env.reloads();
    const runtime = runtimeApplies(env);
    const load = startHttpsLoad({ port: httpsPort, host, ca: pki.caCert, keepAlive: 3, fresh: 3, maxMs: 30000 });
    await new Promise((r) => setTimeout(r, 300));
    change();
    await untilSerial(httpsPort, host, pki.caCert, next.serial);
    await new Promise((r) => setTimeout(r, 300));
    const result = await load.stop();
    t.equal(result.failed, 0, `${host}: no request failed (${JSON.stringify(result.failures)}; ${result.ok} ok)`);
    t.ok(result.ok > 20, `${host}: the load ran (${result.ok} requests)`);
    t.ok(result.serials.has(next.serial), `${host}: the load saw the new serial on new connections`);
    t.equal(await env.reloads(), reloads, `${host}: HAProxy did not reload`);
    t.ok(runtimeApplies(env) > runtime, `${host}: applied over the Runtime API`);
    const file = readFileSync(join(certsDir, 'hosts', `${host}.pem`), 'utf8');
    t.ok(file.includes(next.cert.trim().split('\n')[1] ?? '?'), `${host}: the new certificate is on disk for the next reload`);
  };

  await rotate('s.test', s2, () => void kube.apply('secrets', tlsSecret('shop', 's-tls', s2.chain, s2.key)));
  await rotate('f.test', f2, () => writeFileSync(join(certFiles, 'f.pem'), f2.combined));

  const vhosts = await env.api('GET', '/v1/vhosts/s.test');
  t.match(vhosts.body, { certificate: { serial: s2.serial, source: 'Secret shop/s-tls' } }, 'the API shows the serial served');
  const metrics = await env.apiText('/metrics');
  const expiry = new RegExp(`haproxy_sync_certificate_expiry_timestamp_seconds\\{host="s.test"\\} (\\d+)`).exec(metrics.body);
  t.ok(expiry && Math.abs(Number(expiry[1]) * 1000 - (Date.now() + 30 * 86400000)) < 86400000, 'the expiry metric holds the new notAfter');
});
