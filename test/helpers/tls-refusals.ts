/**
 * Two vhosts over HTTPS for the certificate refusal tests: bad.test from a
 * file of tls.dir, ok.test from a Secret; and a check that a refused
 * certificate touches its own vhost only while the last good one serves.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort, waitUntil } from '../../src/demo/processes.ts';
import { tlsSecret } from '../fixtures/fake-apiserver.ts';
import { makePki } from './certs.ts';
import { blueGreenSpec, startEnv } from './env.ts';
import { httpsGet } from './https.ts';
import { tmpDir } from './tmp.ts';

export interface ProblemView {
  code: string;
  source: string;
  message: string;
}

export async function refusalWorld(t: Test) {
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
  return { env, kube, pki, certFiles, good, other, stranger, serial, problemsOf, refused };
}
