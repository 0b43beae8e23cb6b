import t from 'tap';
import { takeSystemdEnv } from '../../src/lifecycle/systemd.ts';

t.test('takes NOTIFY_SOCKET and the watchdog period, and removes them so children cannot notify', async (t) => {
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42', PATH: '/usr/bin' };
  t.same(takeSystemdEnv(env, 42), { socket: '/run/systemd/notify', watchdogMs: 15000 }, 'pings at half of WatchdogSec');
  t.same(env, { PATH: '/usr/bin' }, 'only the unrelated variables are left');
});

t.test('a watchdog meant for another process (WATCHDOG_PID) is not ours to answer', async (t) => {
  t.same(takeSystemdEnv({ NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '7' }, 42), { socket: '/s', watchdogMs: null });
});

t.test('without WATCHDOG_USEC there is no watchdog; without NOTIFY_SOCKET no systemd at all', async (t) => {
  t.same(takeSystemdEnv({ NOTIFY_SOCKET: '/s' }, 1), { socket: '/s', watchdogMs: null });
  t.same(takeSystemdEnv({ NOTIFY_SOCKET: '/s', WATCHDOG_USEC: 'soon' }, 1), { socket: '/s', watchdogMs: null }, 'a malformed period is ignored');
  const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: '1000000' };
  t.equal(takeSystemdEnv(env, 1), null);
  t.same(env, {}, 'a stray watchdog variable is still removed');
});
