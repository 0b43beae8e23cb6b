// A certificate added to a vhost already served, or taken away, reaches
// HAProxy over the Runtime API (add/del ssl crt-list and the TLS maps),
// without a reload; a vhost added with a certificate is served after its
// checked reload.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitUntil } from '../../src/demo/processes.ts';
import { makePki } from '../helpers/certs.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { httpsGet } from '../helpers/https.ts';
import { tmpDir } from '../helpers/tmp.ts';

function runtimeApplies(env: TestEnv): number {
  return env.logs.filter((l) => l['msg'] === 'applied by runtime').length;
}

t.test('certificates come and go without a reload', async (t) => {
  const dir = tmpDir(t);
  const pki = makePki(join(dir, 'pki'));
  const certFiles = join(dir, 'certs-in');
  mkdirSync(certFiles);
  const shop = pki.leaf(['shop.test']);
  const news = pki.leaf(['news.test']);
  writeFileSync(join(certFiles, 'shop.pem'), shop.combined);
  writeFileSync(join(certFiles, 'news.pem'), news.combined);
  const httpsPort = await freePort();
  const env = await startEnv(t, { config: { tls: { dir: certFiles }, haproxy: { bindTls: [`127.0.0.1:${httpsPort}`], certsDir: join(dir, 'haproxy-certs') } } });
  await env.putSpec('shop.test', blueGreenSpec());
  await env.startDaemon();
  await env.until('shop.test', { body: 'blue' });
  t.equal((await httpsGet(httpsPort, 'shop.test', { insecure: true })).status, 404, 'without a certificate, not served over HTTPS');

  const reloads = await env.reloads();
  const runtime = runtimeApplies(env);
  await env.putSpec('shop.test', blueGreenSpec('web', { tls: { file: 'shop.pem' } }));
  await waitUntil('shop.test over HTTPS', async () => (await httpsGet(httpsPort, 'shop.test', { ca: pki.caCert }).catch(() => null))?.status === 200, 15000);
  t.equal((await httpsGet(httpsPort, 'shop.test', { ca: pki.caCert })).serial, shop.serial, 'the added certificate serves its host');
  t.equal(await env.reloads(), reloads, 'adding a certificate did not reload HAProxy');
  // HAProxy serves it as soon as the commands are accepted; the apply is logged once the config file is written too.
  await waitUntil('the runtime apply logged', async () => runtimeApplies(env) > runtime, 5000);
  t.pass('it went over the Runtime API');

  await env.putActive('shop.test', 'green');
  await waitUntil('green over HTTPS', async () => (await httpsGet(httpsPort, 'shop.test', { ca: pki.caCert }).catch(() => null))?.body.startsWith('green') === true, 15000);
  t.pass('a flip switches HTTPS too');

  await env.putSpec('shop.test', { ...blueGreenSpec(), default: 'green' });
  // The map line goes first, the certificate once nothing points at it: wait for both.
  await waitUntil('shop.test no longer over HTTPS, on the default certificate', async () => {
    const res = await httpsGet(httpsPort, 'shop.test', { insecure: true }).catch(() => null);
    return res?.status === 404 && res.chain[0] === 'haproxy-sync-default';
  }, 15000);
  t.pass('a removed certificate leaves the default one');
  t.equal(await env.reloads(), reloads, 'removing a certificate did not reload HAProxy');
  t.match((await env.get('shop.test')).body, /^green/, 'plain HTTP keeps serving');

  await env.putSpec('news.test', blueGreenSpec('web', { tls: { file: 'news.pem' } }));
  await waitUntil('news.test over HTTPS', async () => (await httpsGet(httpsPort, 'news.test', { ca: pki.caCert }).catch(() => null))?.serial === news.serial, 15000);
  t.ok((await env.reloads()) > reloads, 'a new vhost is added by a checked reload, its certificate with it');
});
