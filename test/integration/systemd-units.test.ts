import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN } from '../helpers/env.ts';
import { tmpDir, type Teardown } from '../helpers/tmp.ts';

const UNITS = join(import.meta.dirname, '../../systemd');
const SERVICE = join(UNITS, 'haproxy-sync.service');
const DROP_IN = join(UNITS, 'haproxy.service.d/haproxy-sync.conf');
// The unit HAProxy's own Debian package installs; the drop-in is checked merged with it.
const DEBIAN_HAPROXY_UNIT = '/lib/systemd/system/haproxy.service';

interface Run {
  readonly status: number | null;
  readonly output: string;
}

function analyze(args: readonly string[]): Run {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`systemd-analyze: ${r.error.message} (Debian package "systemd")`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/**
 * The units in a fresh folder, as systemd would find them: Debian's
 * haproxy.service with our drop-in in haproxy.service.d/. verify insists
 * that ExecStart's program exists, and the package's /usr/bin/haproxy-sync
 * is not installed here: the copy points at a stand-in that runs this
 * checkout with the Node 24 running this test. Nothing else is changed.
 */
function stage(t: Teardown, dropIn = readFileSync(DROP_IN, 'utf8')): string {
  const dir = tmpDir(t);
  mkdirSync(join(dir, 'haproxy.service.d'));
  const standIn = join(dir, 'haproxy-sync');
  writeFileSync(standIn, `#!/bin/sh\nexec ${process.execPath} ${BIN} "$@"\n`, { mode: 0o755 });
  const service = readFileSync(SERVICE, 'utf8');
  writeFileSync(join(dir, 'haproxy-sync.service'), service.replace(/^ExecStart=\/usr\/bin\/haproxy-sync /m, `ExecStart=${standIn} `));
  writeFileSync(join(dir, 'haproxy.service.d/haproxy-sync.conf'), dropIn);
  copyFileSync(DEBIAN_HAPROXY_UNIT, join(dir, 'haproxy.service'));
  return dir;
}

t.test('systemd-analyze verify passes on haproxy-sync.service and on haproxy.service with the drop-in, without a warning', async (t) => {
  t.match(readFileSync(SERVICE, 'utf8'), /^ExecStart=\/usr\/bin\/haproxy-sync run --config \/etc\/haproxy-sync\/config\.yaml$/m, 'the unit runs the packaged command');
  const dir = stage(t);
  const r = analyze(['verify', join(dir, 'haproxy-sync.service'), join(dir, 'haproxy.service')]);
  t.equal(r.status, 0, r.output);
  t.equal(r.output, '', 'no warning either');
});

t.test('the drop-in is really read: a broken copy of it fails verify', async (t) => {
  const broken = readFileSync(DROP_IN, 'utf8').replace('ExecStart=/usr/sbin/haproxy ', 'ExecStart=/nonexistent/haproxy ');
  const dir = stage(t, broken);
  const r = analyze(['verify', join(dir, 'haproxy.service')]);
  t.not(r.status, 0);
  t.match(r.output, /\/nonexistent\/haproxy/);
});

t.test('the hardening the issue asks for is in the unit, and systemd rates its exposure OK', async (t) => {
  const unit = readFileSync(SERVICE, 'utf8');
  const settings = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined) settings.set(m[1], [...(settings.get(m[1]) ?? []), m[2] ?? '']);
  }
  const expected: Record<string, string> = {
    Type: 'notify',
    Wants: 'haproxy.service network-online.target',
    After: 'haproxy.service network-online.target',
    Restart: 'on-failure',
    KillMode: 'mixed',
    NoNewPrivileges: 'yes',
    CapabilityBoundingSet: '',
    ProtectSystem: 'strict',
    ReadWritePaths: '/etc/haproxy',
    StateDirectory: 'haproxy-sync',
    PrivateTmp: 'yes',
    ProtectHome: 'yes',
    RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
  };
  for (const [key, value] of Object.entries(expected)) t.same(settings.get(key), [value], `${key}=${value}`);
  t.notOk(settings.has('MemoryDenyWriteExecute'), 'no MemoryDenyWriteExecute, which breaks V8');
  const dir = stage(t);
  const r = analyze(['security', '--offline=true', '--threshold=25', join(dir, 'haproxy-sync.service')]);
  t.equal(r.status, 0, `exposure at most 2.5: ${r.output.split('\n').pop()}`);
});

t.test('the drop-in gives HAProxy the master socket haproxy-sync uses by default, once', async (t) => {
  const dropIn = readFileSync(DROP_IN, 'utf8');
  const { loadConfig } = await import('../../src/config.ts');
  const socket = loadConfig({ file: null, required: false, env: {}, flags: {} }).haproxy.masterSocket;
  const execStarts = dropIn.split('\n').filter((l) => l.startsWith('ExecStart='));
  t.same(execStarts.length, 2, 'ExecStart reset, then set');
  t.equal(execStarts[0], 'ExecStart=', 'the reset comes first');
  t.equal(execStarts[1]?.match(/ -S /g)?.length, 1, 'one -S flag');
  t.match(execStarts[1], ` -S ${socket},mode,600 `, `at the daemon's default masterSocket (${socket}), root-only`);
  t.match(dropIn, /^Environment="EXTRAOPTS="$/m, "Debian's default -S in EXTRAOPTS is cleared");
});
