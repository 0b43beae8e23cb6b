// A renewed Secret reaches HAProxy over the Runtime API under HTTPS
// keep-alive and new-connection load: the new serial is served, HAProxy did
// not reload, no request failed; the API and the expiry metric follow.
import t from 'tap';
import { tlsSecret } from '../fixtures/fake-apiserver.ts';
import { blueGreenSpec } from '../helpers/env.ts';
import { rotateUnderLoad, startTlsWorld, untilSerial } from '../helpers/tls-world.ts';

t.test('a Secret is rotated without a reload and without a failed request', async (t) => {
  const world = await startTlsWorld(t);
  const { env, pki } = world;
  const kube = env.kube;
  if (!kube) throw new Error('no fake API server');
  const s1 = pki.leaf(['s.test']);
  const s2 = pki.leaf(['s.test']);
  kube.apply('secrets', tlsSecret('shop', 's-tls', s1.chain, s1.key));
  await env.putSpec('s.test', blueGreenSpec('web', { tls: { secret: 'shop/s-tls' } }));
  await env.startDaemon();
  await untilSerial(world, 's.test', s1.serial);

  await rotateUnderLoad(t, world, 's.test', s2, () => void kube.apply('secrets', tlsSecret('shop', 's-tls', s2.chain, s2.key)));

  const vhosts = await env.api('GET', '/v1/vhosts/s.test');
  t.match(vhosts.body, { certificate: { serial: s2.serial, source: 'Secret shop/s-tls', kept: false }, nodes: [{ certificateSerial: s2.serial }] }, 'the API shows the serial served, here and in the node key');
  const metrics = await env.apiText('/metrics');
  const expiry = /haproxy_sync_certificate_expiry_timestamp_seconds\{host="s.test"\} (\d+)/.exec(metrics.body);
  t.ok(expiry && Math.abs(Number(expiry[1]) * 1000 - (Date.now() + 30 * 86400000)) < 86400000, 'the expiry metric holds the new notAfter');
});
