// A vhost switched to a Secret that does not exist, then to one whose key
// does not match: each refused with its source named, the last good
// certificate keeps serving, the other vhost is untouched; once the Secret
// is fixed its certificate serves. No key material reaches the logs, the API
// or the metrics.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitUntil } from '../../src/demo/processes.ts';
import { tlsSecret } from '../fixtures/fake-apiserver.ts';
import { makePki } from '../helpers/certs.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { httpsGet } from '../helpers/https.ts';
import { tmpDir } from '../helpers/tmp.ts';

interface ProblemView {
  code: string;
  source: string;
  message: string;
}

t.test('a missing or bad Secret is refused for its vhost only; the last good certificate keeps serving until it is fixed', async (t) => {
  const dir = tmpDir(t);
  const pki = makePki(join(dir, 'pki'));
  const certFiles = join(dir, 'certs-in');
  mkdirSync(certFiles);
  const good = pki.leaf(['bad.test']);
  const other = pki.leaf(['ok.test']);
  const stranger = pki.leaf(['stranger.test']);
    writeFileSync(join(certFiles, 'bad.pem'), good.combined);
  const httpsPort = await freePort();
  const env = await startEnv(t, {
    kubernetes: {},
    config: {
      kubernetes: { secretNamespaces: ['shop'] },
      tls: { dir: certFiles },
      haproxy: { bindTls: [`127.0.0.1:${httpsPort}`], certsDir: join(dir, 'haproxy-certs') },
    },
  });
  const kube = env.kube;
  if (!kube) throw new Error('no fake API server');
  kube.apply('secrets', tlsSecret('shop', 'ok-tls', other.chain, other.key));
  await env.putSpec('bad.test', blueGreenSpec('web', { tls: { file: 'bad.pem' } }));
  await env.putSpec('ok.test', blueGreenSpec('web', { tls: { secret: 'shop/ok-tls' } }));
  await env.startDaemon();
  const serial = async (host: string): Promise<string | null> => (await httpsGet(httpsPort, host, { ca: pki.caCert }).catch(() => null))?.serial ?? null;
  await waitUntil('both served', async () => (await serial('bad.test')) === good.serial && (await serial('ok.test')) === other.serial, 15000);

  const problemsOf = async (host: string): Promise<ProblemView[]> => ((await env.api('GET', `/v1/vhosts/${host}`)).body as { problems: ProblemView[] }).problems;
  const refused = async (what: string, write: () => void, code: string, message: RegExp, source: RegExp): Promise<void> => {
    write();
    await waitUntil(`${what} reported`, async () => (await problemsOf('bad.test')).some((p) => p.code === code && message.test(p.message)), 15000);
    const problem = (await problemsOf('bad.test')).find((p) => p.code === code);
    t.match(problem?.source, source, `${what}: the problem names its source`);
    t.match(problem?.message, /last good certificate \(serial [0-9A-F]+\) keeps serving/, `${what}: it says the last good one serves`);
    t.equal(await serial('bad.test'), good.serial, `${what}: the last good certificate keeps serving`);
    t.equal(await serial('ok.test'), other.serial, `${what}: the other vhost is untouched`);
    t.same(await problemsOf('ok.test'), [], `${what}: the other vhost has no problem`);
  };

  await refused('a missing Secret', () => void env.putSpec('bad.test', blueGreenSpec('web', { tls: { secret: 'shop/none' } })), 'CERTIFICATE_MISSING', /Secret shop\/none does not exist/, /vhosts\/bad\.test\/spec \(tls\)$/);
  await refused('a Secret with a mismatched key', () => {
    kube.apply('secrets', tlsSecret('shop', 'none', good.chain, stranger.key));
  }, 'CERTIFICATE_INVALID', /private key does not match/, /^Secret shop\/none$/);

  // Fixed: the new certificate serves and the problem goes.
  const fixed = pki.leaf(['bad.test']);
  kube.apply('secrets', tlsSecret('shop', 'none', fixed.chain, fixed.key));
  await waitUntil('fixed certificate served', async () => (await serial('bad.test')) === fixed.serial, 15000);
  t.same(await problemsOf('bad.test'), [], 'no problem once fixed');

  const captured = [JSON.stringify(env.logs), JSON.stringify((await env.api('GET', '/v1/vhosts')).body), (await env.apiText('/metrics')).body].join('\n');
  for (const [name, leaf] of Object.entries({ good, other, stranger, fixed })) {
    const pieces = leaf.keyBody.match(/.{24}/g) ?? [];
    t.ok(pieces.length > 2, `${name}: key pieces to look for`);
    t.notOk(pieces.some((p) => captured.includes(p)), `${name}: no piece of its key in logs, API answers or metrics`);
  }
  t.ok(env.logs.some((l) => l['code'] === 'CERTIFICATE_INVALID'), 'the refusals were logged');
});
