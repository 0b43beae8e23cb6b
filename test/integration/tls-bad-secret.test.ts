// A vhost switched to a Secret that does not exist, then to one whose key
// does not match: each refused with its source named, the last good
// certificate keeps serving, the other vhost is untouched; once the Secret
// is fixed its certificate serves. No key material reaches the logs, the API
// or the metrics.
import t from 'tap';
import { waitUntil } from '../../src/demo/processes.ts';
import { tlsSecret } from '../fixtures/fake-apiserver.ts';
import { blueGreenSpec } from '../helpers/env.ts';
import { refusalWorld } from '../helpers/tls-refusals.ts';

t.test('a missing or bad Secret is refused for its vhost only; the last good certificate keeps serving until it is fixed', async (t) => {
  const { env, kube, pki, good, other, stranger, serial, problemsOf, refused } = await refusalWorld(t);

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
