// A bad certificate file is a problem of its vhost alone: a key that does not
// match, an expired certificate, one for other names and garbage are each
// refused with their source named, the last good certificate keeps serving,
// the other vhosts are untouched, and no key material reaches the logs, the
// API or the metrics.
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

t.test('bad certificate files are refused for their vhost only; the last good one keeps serving', async (t) => {
  const dir = tmpDir(t);
  const pki = makePki(join(dir, 'pki'));
  const certFiles = join(dir, 'certs-in');
  mkdirSync(certFiles);
  const good = pki.leaf(['bad.test']);
  const other = pki.leaf(['ok.test']);
  const stranger = pki.leaf(['stranger.test']);
  const expired = pki.leaf(['bad.test'], { startDate: '20200101000000Z', endDate: '20200201000000Z' });
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

  const file = /^certificate file .*\/bad\.pem$/;
  await refused('a key that does not match', () => writeFileSync(join(certFiles, 'bad.pem'), good.chain + stranger.key), 'CERTIFICATE_INVALID', /private key does not match/, file);
  await refused('an expired certificate', () => writeFileSync(join(certFiles, 'bad.pem'), expired.combined), 'CERTIFICATE_INVALID', /expired on 2020-02-01/, file);
  await refused('a certificate for other names', () => writeFileSync(join(certFiles, 'bad.pem'), stranger.combined), 'CERTIFICATE_INVALID', /does not cover bad\.test/, file);
  await refused('garbage', () => writeFileSync(join(certFiles, 'bad.pem'), 'not a certificate\n'), 'CERTIFICATE_INVALID', /holds no PEM certificate/, file);
  await refused('a truncated key', () => writeFileSync(join(certFiles, 'bad.pem'), good.chain + good.key.replace(/\n[A-Za-z0-9+/=]{8,}\n/, '\nAAAA\n')), 'CERTIFICATE_INVALID', /does not parse|does not match/, file);
  const captured = [JSON.stringify(env.logs), JSON.stringify((await env.api('GET', '/v1/vhosts')).body), (await env.apiText('/metrics')).body].join('\n');
  for (const [name, leaf] of Object.entries({ good, other, stranger, expired })) {
    const pieces = leaf.keyBody.match(/.{24}/g) ?? [];
    t.ok(pieces.length > 2, `${name}: key pieces to look for`);
    t.notOk(pieces.some((p) => captured.includes(p)), `${name}: no piece of its key in logs, API answers or metrics`);
  }
  t.ok(env.logs.some((l) => l['code'] === 'CERTIFICATE_INVALID'), 'the refusals were logged');
});
