// A bad certificate file is a problem of its vhost alone: a key that does not
// match, an expired certificate, one for other names and garbage are each
// refused with their source named, the last good certificate keeps serving,
// the other vhosts are untouched, and no key material reaches the logs, the
// API or the metrics.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { refusalWorld } from '../helpers/tls-refusals.ts';

t.test('bad certificate files are refused for their vhost only; the last good one keeps serving', async (t) => {
  const { env, pki, certFiles, good, other, stranger, refused } = await refusalWorld(t);
  const expired = pki.leaf(['bad.test'], { startDate: '20200101000000Z', endDate: '20200201000000Z' });

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
