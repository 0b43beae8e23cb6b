import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { answersReload, isSupported, parseVersion, readVersion, refusesOverlappingReload, series } from '../../src/haproxy/version.ts';
import { tmpDir } from '../helpers/tmp.ts';

t.test('versions are read from every place HAProxy prints them', async (t) => {
  t.same(parseVersion('3.0.11-1+deb13u4'), { major: 3, minor: 0, patch: 11, release: '3.0.11', full: '3.0.11-1+deb13u4' }, 'show version, show proc');
  t.same(parseVersion('3.2.26-1       '), { major: 3, minor: 2, patch: 26, release: '3.2.26', full: '3.2.26-1' }, 'show proc pads the column');
  t.same(parseVersion('HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/\nStatus: long-term supported branch'), {
    major: 2, minor: 6, patch: 12, release: '2.6.12', full: '2.6.12-1+deb12u4',
  }, 'haproxy -v');
  t.match(parseVersion('HA-Proxy version 2.2.9-2+deb11u6 2023/12/20 - https://haproxy.org/'), { release: '2.2.9' }, 'the old spelling');
  t.match(parseVersion('3.3-dev5'), { major: 3, minor: 3, patch: 0, release: '3.3', full: '3.3-dev5' }, 'a development version');
  t.equal(parseVersion('Unknown command.'), null);
  t.equal(parseVersion(''), null);
  t.equal(parseVersion('3'), null);
});

t.test('capabilities by version', async (t) => {
  const v = (text: string) => {
    const parsed = parseVersion(text);
    if (parsed === null) throw new Error(text);
    return parsed;
  };
  t.same(['2.4.22', '2.5.0', '2.6.0', '2.6.12', '3.0.11', '3.2.26', '4.0.0'].map((x) => isSupported(v(x))), [false, false, true, true, true, true, true]);
  t.same(['2.6.12', '2.7.0', '3.0.11', '3.2.26'].map((x) => answersReload(v(x))), [false, true, true, true]);
  t.same(['2.6.12', '3.0.11', '3.1.0', '3.2.26'].map((x) => refusesOverlappingReload(v(x))), [false, false, true, true]);
  t.equal(series(v('3.0.11-1+deb13u4')), '3.0');
});

t.test('the version comes from the master CLI, else from haproxy -v', async (t) => {
  const master = (answer: string | Error) => ({ command: async () => (answer instanceof Error ? Promise.reject(answer) : answer) });
  t.match(await readVersion(master('3.0.11-1+deb13u4'), '/nonexistent/haproxy'), { version: { release: '3.0.11' }, from: 'master CLI' });
  // `node -v` prints "v24...", no version; a shell script stands in for a binary that prints one.
  const fake = join(tmpDir(t), 'haproxy');
  writeFileSync(fake, '#!/bin/sh\necho "HAProxy version 3.2.26-1 2026/10/14 - https://haproxy.org/"\n');
  chmodSync(fake, 0o755);
  t.match(await readVersion(master(new Error('no socket')), fake), { version: { release: '3.2.26' }, from: 'haproxy -v' });
  t.match(await readVersion(master('Unknown command.'), fake), { from: 'haproxy -v' });
  await t.rejects(readVersion(master(new Error('no socket')), '/nonexistent/haproxy'), { code: 'HAPROXY_COMMAND_FAILED', message: /no socket.*\/nonexistent\/haproxy -v/ });
});
