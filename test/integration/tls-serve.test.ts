// HTTPS per vhost: each name gets its own certificate by SNI with its full
// chain (from a file and from a Secret), plain HTTP redirects when asked,
// HSTS is sent over HTTPS, and names without a certificate get the default
// certificate and a 404.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitUntil } from '../../src/demo/processes.ts';
import { tlsSecret } from '../fixtures/fake-apiserver.ts';
import { makePki } from '../helpers/certs.ts';
import { checkCommand } from '../../src/commands/check.ts';
import { renderOnce } from '../../src/commands/render.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { captureLogs } from '../helpers/logs.ts';
import { httpsGet } from '../helpers/https.ts';
import { tmpDir } from '../helpers/tmp.ts';

const run = promisify(execFile);

t.test('each vhost is served over HTTPS with its own certificate and chain', async (t) => {
  const dir = tmpDir(t);
  const pki = makePki(join(dir, 'pki'));
  const certFiles = join(dir, 'certs-in');
  mkdirSync(certFiles);
  const a = pki.leaf(['a.test']);
  const b = pki.leaf(['b.test', 'www.b.test']);
  // Blank lines between the blocks, and the key first: the chain must survive both.
  writeFileSync(join(certFiles, 'a.pem'), `${a.key}\n\n${a.cert}\n\n\n${pki.intermediateCert}\n`);
  const httpsPort = await freePort();
  const env = await startEnv(t, {
    kubernetes: {},
    config: {
      kubernetes: { secretNamespaces: ['shop'] },
      tls: { dir: certFiles },
      haproxy: { bindTls: [`127.0.0.1:${httpsPort}`], certsDir: join(dir, 'haproxy-certs') },
    },
  });
  env.kube?.apply('secrets', tlsSecret('shop', 'b-tls', b.chain, b.key));
  await env.putSpec('a.test', blueGreenSpec('web', { tls: { file: 'a.pem' }, redirect: true, hsts: 300 }));
  await env.putSpec('b.test', blueGreenSpec('web', { tls: { secret: 'shop/b-tls' } }));
  await env.putSpec('c.test', blueGreenSpec());
  await env.startDaemon();
  await env.until('c.test', { body: 'blue' });
  await waitUntil('a.test over HTTPS', async () => (await httpsGet(httpsPort, 'a.test', { ca: pki.caCert }).catch(() => null))?.status === 200, 15000);

  const ra = await httpsGet(httpsPort, 'a.test', { ca: pki.caCert });
  t.match(ra.body, /^blue /, 'a.test answers from its live colour');
  t.equal(ra.serial, a.serial, 'a.test gets its own certificate');
  t.same(ra.chain.slice(0, 3), ['a.test', 'Test Intermediate CA', 'Test Root CA'], 'with the intermediate, though the file had blank lines');
  t.equal(ra.headers['strict-transport-security'], 'max-age=300', 'HSTS over HTTPS');

  await waitUntil('b.test over HTTPS', async () => (await httpsGet(httpsPort, 'b.test', { ca: pki.caCert }).catch(() => null))?.status === 200, 15000);
  const rb = await httpsGet(httpsPort, 'b.test', { ca: pki.caCert });
  t.equal(rb.serial, b.serial, 'b.test gets the certificate of its Secret');
  t.equal(rb.headers['strict-transport-security'], undefined, 'no HSTS where not asked');

  // curl, trusting only the root: the full chain is served, over HTTP/2 where offered.
  const curl = await run('curl', ['-sS', '--cacert', pki.caFile, '--resolve', `a.test:${httpsPort}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `https://a.test:${httpsPort}/`]);
  t.equal(curl.stdout, '200 2', 'curl verifies a.test against the root CA, over h2');

  const plainA = await env.get('a.test');
  t.equal(plainA.status, 301, 'plain HTTP GET redirects');
  t.equal(plainA.headers['location'], 'https://a.test/', 'to the same URL over HTTPS');
  const post = await run('curl', ['-sS', '-X', 'POST', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: a.test', `http://127.0.0.1:${env.httpPort}/`]);
  t.equal(post.stdout, '308', 'a POST gets 308, which keeps the method');
  t.equal((await env.get('b.test')).status, 200, 'no redirect where not asked');
  t.equal(plainA.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');

  const rc = await httpsGet(httpsPort, 'c.test', { insecure: true });
  t.equal(rc.status, 404, 'a vhost without a certificate is not served over HTTPS');
  t.same(rc.chain[0], 'haproxy-sync-default', 'it gets the generated default certificate');
  const unknown = await httpsGet(httpsPort, 'nowhere.test', { insecure: true });
  t.equal(unknown.status, 404, 'an unknown name gets 404 too');
  await t.rejects(httpsGet(httpsPort, 'c.test', { ca: pki.caCert }), 'a verifying client refuses the default certificate');

  // The one-shot commands read the same certificate sources as the daemon.
  const { log } = captureLogs();
  const once = await renderOnce(env.config(), log);
  t.same(once.desired.problems, [], 'render finds every certificate');
  t.match(once.rendered.config, /frontend fe_https/, 'and renders the HTTPS frontend');
  t.match(once.rendered.certificates?.['crt-list.txt'], /a\.test\.pem a\.test\n.*b\.test\.pem b\.test\n/, 'and the crt-list');
  t.equal(await checkCommand(env.config(), log), 0, 'check validates the HTTPS config with its certificates');
});
