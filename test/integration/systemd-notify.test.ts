import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { haproxyBinary } from '../../src/demo/haproxy-binary.ts';
import { launch, waitUntil } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv } from '../helpers/env.ts';
import { tmpDir } from '../helpers/tmp.ts';

const RECEIVER = join(import.meta.dirname, '../fixtures/notify-socket.py');

t.test('under systemd (Type=notify): READY=1 once serving, WATCHDOG=1 while running, STOPPING=1 on SIGTERM, and no child inherits the socket', async (t) => {
  const dir = tmpDir(t);
  const socket = join(dir, 'notify.sock');
  const received = join(dir, 'received.jsonl');
  const receiver = launch('python3', [RECEIVER, socket, received]);
  t.teardown(() => receiver.stop());
  await waitUntil('the notify socket', async () => existsSync(socket), 10000, receiver);

  // Records what `haproxy -c` children see of NOTIFY_SOCKET, then runs the real haproxy.
  const seen = join(dir, 'child-notify-socket');
  const haproxy = join(dir, 'haproxy');
  writeFileSync(haproxy, `#!/bin/sh\necho "[\${NOTIFY_SOCKET:-}]" >> ${seen}\nexec ${haproxyBinary()} "$@"\n`);
  chmodSync(haproxy, 0o755);

  const env = await startEnv(t, { config: { haproxy: { binary: haproxy } } });
  await env.putSpec('shop.example.com', blueGreenSpec());
  const messages = (): string[] => (existsSync(received) ? readFileSync(received, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string) : []);
  const daemon = env.spawnDaemon({ env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '200000' } });

  await waitUntil('READY=1', async () => messages().some((m) => m.split('\n').includes('READY=1')), 15000, daemon);
  t.equal((await env.apiText('/healthz')).status, 200, 'the API answers by the time READY=1 is sent');
  await waitUntil('three watchdog pings', async () => messages().filter((m) => m === 'WATCHDOG=1').length >= 3, 15000, daemon);
  await env.until('shop.example.com', { body: 'blue' });

  daemon.child.kill('SIGTERM');
  await new Promise((resolve) => daemon.child.once('exit', resolve));
  t.equal(daemon.child.exitCode, 0, 'graceful exit');
  const all = messages();
  const ready = all.findIndex((m) => m.includes('READY=1'));
  const stopping = all.findIndex((m) => m.split('\n').includes('STOPPING=1'));
  t.ok(ready >= 0 && stopping > ready, 'STOPPING=1 comes after READY=1');
  t.match(all[ready] ?? '', /STATUS=serving the API on 127\.0\.0\.1:\d+/, 'READY=1 carries a status line');
  t.notOk(all.slice(stopping + 1).includes('WATCHDOG=1'), 'no watchdog ping after STOPPING=1');
  const childViews = readFileSync(seen, 'utf8').split('\n').filter(Boolean);
  t.ok(childViews.length > 0, 'haproxy -c ran');
  t.same([...new Set(childViews)], ['[]'], 'haproxy -c never saw NOTIFY_SOCKET');
});

