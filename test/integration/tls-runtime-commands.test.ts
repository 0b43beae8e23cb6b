// The certificate commands of the Runtime API client against each HAProxy
// series Debian ships (2.6, 3.0, 3.2, where installed): a certificate is
// replaced, one is added with its SNI filter and removed again, every answer
// is judged by its meaning, and a refusal carries HAProxy's text but never
// the payload.
import t from 'tap';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startHaproxy } from '../../src/demo/processes.ts';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';
import { makePki } from '../helpers/certs.ts';
import { httpsGet } from '../helpers/https.ts';
import { tmpDir } from '../helpers/tmp.ts';

const CACHE = '/var/cache/haproxy-sync-test';
const versions = ['2.6', '3.0', '3.2'].filter((v) => existsSync(join(CACHE, v, 'haproxy')));

t.test('certificate commands on every installed HAProxy series', async (t) => {
  t.ok(versions.length > 0, `HAProxy binaries found: ${versions.join(', ') || 'none'} (bash test/haproxy-versions/install.sh makes them)`);
  const dir = tmpDir(t);
  const pki = makePki(join(dir, 'pki'));
  const def = pki.leaf(['default.test']);
  const a1 = pki.leaf(['a.test']);
  const a2 = pki.leaf(['a.test']);
  const b = pki.leaf(['b.test']);
  for (const version of versions) {
    await t.test(`HAProxy ${version}`, async (t) => {
      const d = join(dir, version);
      mkdirSync(join(d, 'hosts'), { recursive: true });
      writeFileSync(join(d, 'default.pem'), def.combined);
      writeFileSync(join(d, 'hosts', 'a.pem'), a1.combined);
      const crtList = join(d, 'crt-list.txt');
      writeFileSync(crtList, `${join(d, 'hosts', 'a.pem')} a.test\n`);
      const port = await freePort();
      const admin = join(d, 'admin.sock');
      writeFileSync(
        join(d, 'haproxy.cfg'),
        [
          'global',
          `    stats socket ${admin} mode 600 level admin`,
          'defaults',
          '    mode http',
          '    timeout connect 1s',
          '    timeout client 5s',
          '    timeout server 5s',
          'frontend fe_https',
          `    bind 127.0.0.1:${port} ssl crt ${join(d, 'default.pem')} crt-list ${crtList}`,
          '    http-request return status 200 content-type text/plain string ok',
          '',
        ].join('\n'),
      );
      const haproxy = await startHaproxy({ config: join(d, 'haproxy.cfg'), masterSocket: join(d, 'master.sock'), pidFile: join(d, 'pid'), binary: join(CACHE, version, 'haproxy') });
      t.teardown(() => haproxy.stop());
      const api = new RuntimeClient({ socket: admin });
      const aFile = join(d, 'hosts', 'a.pem');
      const bFile = join(d, 'hosts', 'b.pem');

      t.equal((await api.showSslCert(aFile)).serial, a1.serial, 'show ssl cert reads the serial loaded');
      await api.setSslCert(aFile, a2.combined);
      await api.commitSslCert(aFile);
      t.equal((await api.showSslCert(aFile)).serial, a2.serial, 'set + commit replaced it');
      t.equal((await httpsGet(port, 'a.test', { ca: pki.caCert })).serial, a2.serial, 'new connections get the new certificate');

      await api.newSslCert(bFile);
      await api.setSslCert(bFile, b.combined);
      await api.commitSslCert(bFile);
      await api.addCrtListEntry(crtList, bFile, 'b.test');
      t.equal((await httpsGet(port, 'b.test', { ca: pki.caCert })).serial, b.serial, 'an added certificate serves its name');
      t.equal((await httpsGet(port, 'a.test', { ca: pki.caCert })).serial, a2.serial, 'without taking the other names');

      await api.delCrtListEntry(crtList, bFile);
      await api.delSslCert(bFile);
      const after = await httpsGet(port, 'b.test', { insecure: true });
      t.equal(after.chain[0], 'default.test', 'a removed certificate leaves its name to the default');

      const refused = await api.setSslCert(join(d, 'unknown.pem'), b.combined).then(() => null, (err: unknown) => err as Error & { code?: string });
      t.equal(refused?.code, 'HAPROXY_COMMAND_FAILED', 'a refused command fails');
      t.match(refused?.message, /not referenced by the configuration/, 'with HAProxy\'s words');
      t.notOk(refused?.message.includes(b.keyBody.slice(0, 24)), 'and without the payload');
      await api.abortSslCert(join(d, 'unknown.pem'));
      const blank = await api.setSslCert(aFile, `${a1.cert}\n\n${a1.key}`).then(() => null, (err: unknown) => err as Error & { code?: string });
      t.equal(blank?.code, 'HAPROXY_INVALID_ARGUMENT', 'a payload with a blank line is refused before it is sent');
      t.equal((await api.showSslCert(aFile)).serial, a2.serial, 'nothing changed');
    });
  }
});
