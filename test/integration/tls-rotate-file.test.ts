// A renewed certificate file reaches HAProxy over the Runtime API under
// HTTPS keep-alive and new-connection load: the new serial is served,
// HAProxy did not reload, no request failed.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Leaf } from '../helpers/certs.ts';
import { blueGreenSpec } from '../helpers/env.ts';
import { rotateUnderLoad, startTlsWorld, untilSerial } from '../helpers/tls-world.ts';

t.test('a certificate file is rotated without a reload and without a failed request', async (t) => {
  let f1: Leaf | null = null;
  const world = await startTlsWorld(t, (pki, dir) => {
    f1 = pki.leaf(['f.test']);
    writeFileSync(join(dir, 'f.pem'), f1.combined);
  });
  const { env, pki, certFiles } = world;
  const first = f1 as Leaf | null;
  if (!first) throw new Error('no first certificate');
  const f2 = pki.leaf(['f.test']);
  await env.putSpec('f.test', blueGreenSpec('web', { tls: { file: 'f.pem' } }));
  await env.startDaemon();
  await untilSerial(world, 'f.test', first.serial);

  await rotateUnderLoad(t, world, 'f.test', f2, () => writeFileSync(join(certFiles, 'f.pem'), f2.combined));
});
