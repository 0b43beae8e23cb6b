/** How MasterClient.reload reads each kind of answer, against a fake master CLI. */
import { join } from 'node:path';
import t from 'tap';
import { MasterClient } from '../../src/haproxy/master.ts';
import type { HaproxyVersion } from '../../src/haproxy/version.ts';
import { fakeHaproxy, SHOW_PROC_30 } from '../helpers/fake-haproxy.ts';
import { tmpDir } from '../helpers/tmp.ts';

const AFTER_RELOAD = SHOW_PROC_30.replace('0 [failed: 0]', '1 [failed: 0]').replace('101             worker          0', '102             worker          0');
const BUSY = 'Success=0\n--\nAnother reload is still in progress.';

t.test('3.1+ "another reload is still in progress": waits, sends again, and confirms', async (t) => {
  const socket = join(tmpDir(t), 'master.sock');
  let reloads = 0;
  const seen = await fakeHaproxy(t, socket, (cmd) => {
    if (cmd === 'show proc') return reloads >= 3 ? AFTER_RELOAD : SHOW_PROC_30;
    reloads += 1;
    return reloads < 3 ? BUSY : 'Success=1\n--\n[NOTICE]   (100) : Loading success.';
  });
  const result = await new MasterClient({ socket }).reload({ timeoutMs: 3000 });
  t.match(result, { ok: true, reloadsBefore: 0, reloadsAfter: 1, newWorkerPids: [102] });
  t.same(seen, ['show proc', 'reload', 'reload', 'reload', 'show proc']);
});

t.test('a reload that stays busy past the deadline fails, quoting HAProxy', async (t) => {
  const socket = join(tmpDir(t), 'master.sock');
  await fakeHaproxy(t, socket, (cmd) => (cmd === 'show proc' ? SHOW_PROC_30 : BUSY));
  await t.rejects(new MasterClient({ socket }).reload({ timeoutMs: 300 }), { code: 'HAPROXY_RELOAD_FAILED', message: /Another reload is still in progress/ });
});

t.test('Success=0: not ok, with the ALERT lines as the reason', async (t) => {
  const socket = join(tmpDir(t), 'master.sock');
  const failed = SHOW_PROC_30.replace('0 [failed: 0]', '1 [failed: 1]');
  let reloaded = false;
  await fakeHaproxy(t, socket, (cmd) => {
    if (cmd === 'show proc') return reloaded ? failed : SHOW_PROC_30;
    reloaded = true;
    return 'Success=0\n--\n[NOTICE]   (100) : haproxy version is 3.0.11\n[ALERT]    (100) : Binding [/etc/haproxy/haproxy.cfg:9] for frontend fe: cannot bind socket (Address already in use) for [0.0.0.0:80].\n[WARNING]  (100) : Loading failure!';
  });
  const result = await new MasterClient({ socket }).reload();
  t.match(result, { ok: false, failedBefore: 0, failedAfter: 1, newWorkerPids: [] });
  t.equal(result.reason, 'HAProxy could not load the new configuration; the previous workers keep serving: Binding [/etc/haproxy/haproxy.cfg:9] for frontend fe: cannot bind socket (Address already in use) for [0.0.0.0:80].');
});

t.test('the version is reported when first seen and again when HAProxy restarts or is upgraded', async (t) => {
  const socket = join(tmpDir(t), 'master.sock');
  let proc = SHOW_PROC_30;
  await fakeHaproxy(t, socket, () => proc);
  const seen: HaproxyVersion[] = [];
  const master = new MasterClient({ socket, onVersion: (v) => seen.push(v) });
  await master.showProc();
  await master.showProc();
  t.same(seen.map((v) => v.full), ['3.0.11-1+deb13u4'], 'once while nothing changes');
  proc = SHOW_PROC_30.replace(/^100 /m, '200 ');
  await master.showProc();
  t.same(seen.map((v) => v.full), ['3.0.11-1+deb13u4', '3.0.11-1+deb13u4'], 'a new master process: read again');
  proc = proc.replaceAll('3.0.11-1+deb13u4', '3.0.12-1+deb13u5');
  await master.showProc();
  t.equal(master.version()?.release, '3.0.12', 'an upgrade');
  t.equal(seen.length, 3);
});
