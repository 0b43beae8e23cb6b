import { createSocket } from 'node:dgram';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from '../../src/demo/processes.ts';
import { MasterClient } from '../../src/haproxy/master.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { tmpDir, type Teardown } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';
const CHROOT = '/var/lib/haproxy';
const CODES = [400, 403, 408, 500, 502, 503, 504];

/** A syslog receiver on UDP, as /dev/log's daemon would be. */
async function syslog(t: Teardown): Promise<{ port: number; lines: string[] }> {
  const port = await freePort();
  const lines: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (m) => lines.push(m.toString('utf8')));
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
  t.teardown(() => void socket.close());
  return { port, lines };
}

function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

function passwdUid(user: string): number {
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!entry) throw new Error(`no user ${user}: install Debian's haproxy package, which creates it`);
  return Number(entry.split(':')[2]);
}

t.test("HAProxy run as Debian runs it, its first config kept aside: unprivileged chrooted workers, syslog with traffic lines, our error pages; maps, runtime updates and reloads still work", async (t) => {
  const log = await syslog(t);
  const errors = tmpDir(t);
  for (const code of CODES) {
    writeFileSync(join(errors, `${code}.http`), `HTTP/1.0 ${code} Error\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nerror page ${code} of this host\n`);
  }
  const env = await startEnv(t, {
    config: { haproxy: { user: 'haproxy', group: 'haproxy', chroot: CHROOT, log: `127.0.0.1:${log.port}`, errorfiles: errors } },
  });
  await env.putSpec(HOST, blueGreenSpec());
  await env.startDaemon();
  await env.until(HOST, { body: 'blue' });

  const backup = `${env.paths.config}.before-haproxy-sync`;
  const kept = readFileSync(backup, 'utf8');
  t.match(kept, /stats socket/, 'the config HAProxy started with is kept');
  t.notMatch(kept, /rendered by haproxy-sync/);
  t.ok(env.logs.some((l) => l['backup'] === backup && l['level'] === 'warn'), 'and the log says where');

  const proc = await new MasterClient({ socket: env.paths.master }).showProc();
  t.ok(proc.workers.length > 0);
  for (const w of proc.workers) {
    t.equal(uidOf(w.pid), passwdUid('haproxy'), `worker ${w.pid} runs as haproxy`);
    t.equal(readlinkSync(`/proc/${w.pid}/root`), CHROOT, `worker ${w.pid} is chrooted to ${CHROOT}`);
  }

  await waitFor(() => log.lines.some((l) => l.includes(`be_${HOST}_blue`)), 10000, 'a traffic line in syslog');
  t.match(log.lines.find((l) => l.includes(`be_${HOST}_blue`)), /GET \/ HTTP\/1\.1/, 'an httplog line names backend and request');

  const reloads = await env.reloads();
  await env.putActive(HOST, 'green');
  await env.until(HOST, { body: 'green' });
  t.equal(await env.reloads(), reloads, 'a flip still goes through the Runtime API under chroot');

  await env.putSpec('empty.example.com', { backends: { blue: { service: 'shop/none', port: 8080 } } });
  await env.until('empty.example.com', { status: 503 });
  t.ok(await env.reloads() > reloads, 'a new vhost reloads');
  t.match((await env.get('empty.example.com')).body, /^error page 503 of this host/, 'a vhost without servers answers with the configured error page');
  t.equal(readFileSync(backup, 'utf8'), kept, 'later reloads leave the kept copy alone');
});
