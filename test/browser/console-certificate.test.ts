// The console shows each vhost's HTTPS certificate: its serial, its expiry
// with the days left, and where it comes from.
import t from 'tap';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/demo/processes.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';
import { makePki } from '../helpers/certs.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { tmpDir } from '../helpers/tmp.ts';

t.test('each vhost card shows its certificate and its expiry', async (t) => {
  const dir = tmpDir(t);
  const pki = makePki(join(dir, 'pki'));
  const certFiles = join(dir, 'certs-in');
  mkdirSync(certFiles);
  const leaf = pki.leaf(['shop.test']);
  writeFileSync(join(certFiles, 'shop.pem'), leaf.combined);
  const env = await startEnv(t, { config: { tls: { dir: certFiles }, haproxy: { bindTls: [`127.0.0.1:${await freePort()}`], certsDir: join(dir, 'haproxy-certs') } } });
  await env.startDaemon();
  await env.putSpec('shop.test', blueGreenSpec('web', { tls: { file: 'shop.pem' } }));
  await env.putSpec('plain.test', blueGreenSpec());
  await env.until('plain.test', { body: 'blue' });
  const origin = `http://127.0.0.1:${env.apiPort}`;
  const browser = await launchBrowser(t);
  const { page, errors } = await openPage(browser, origin);
  await page.goto(`${origin}/`);
  const card = page.locator('article[data-host="shop.test"]');
  await card.locator('.certificate').waitFor({ timeout: 15000 });
  const text = (await card.locator('.certificate').textContent()) ?? '';
  t.match(text, new RegExp(`HTTPS certificate ${leaf.serial} · expires \\d{4}-\\d\\d-\\d\\d \\(in (29|30) days\\)`), 'serial and expiry with the days left');
  t.match(text, /certificate file .*\/shop\.pem/, 'and its source');
  t.equal(await page.locator('article[data-host="plain.test"] .certificate').count(), 0, 'a vhost without HTTPS shows none');
  t.same(errors, [], 'no console error');
});
