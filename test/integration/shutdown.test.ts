import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import t from 'tap';
import { haproxyBinary } from '../../src/demo/haproxy-binary.ts';
import { waitUntil, type Managed } from '../../src/demo/processes.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { tmpDir, type Teardown } from '../helpers/tmp.ts';

const HOST = 'shop.example.com';
const NEW_HOST = 'late.example.com';

/**
 * A stand-in for `haproxy` that, once `slowDown(seconds)` is called, marks
 * when a check starts, waits, then runs the real `haproxy -c`: it holds an
 * apply in flight for as long as a test needs.
 */
function slowHaproxy(t: Teardown): { binary: string; started: string; slowDown(seconds: number): void } {
  const dir = tmpDir(t);
  const started = join(dir, 'check-started');
  const delay = join(dir, 'delay');
  const binary = join(dir, 'haproxy');
  // The wait's pid goes into `started`: a daemon that exits mid-check leaves it behind, and teardown ends it.
  writeFileSync(binary, `#!/bin/sh\nif [ -f ${delay} ]; then sleep "$(cat ${delay})" & echo $! >> ${started}; wait; fi\nexec ${haproxyBinary()} "$@"\n`);
  chmodSync(binary, 0o755);
  t.teardown(() => {
    if (!existsSync(started)) return;
    for (const pid of readFileSync(started, 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid));
      } catch {
        // already finished
      }
    }
  });
  return { binary, started, slowDown: (seconds) => writeFileSync(delay, String(seconds)) };
}

/** A daemon child process serving HOST, with an apply of NEW_HOST in flight that takes `seconds`. */
async function applyInFlight(t: Teardown, seconds: number): Promise<{ env: TestEnv; daemon: Managed }> {
  const slow = slowHaproxy(t);
  const env = await startEnv(t, { config: { haproxy: { binary: slow.binary }, log: { level: 'info' } } });
  await env.putSpec(HOST, blueGreenSpec());
  const daemon = env.spawnDaemon();
  await env.until(HOST, { body: 'blue' }, 30000);
  slow.slowDown(seconds);
  await env.putSpec(NEW_HOST, blueGreenSpec());
  await waitUntil('a new apply checking its config', async () => existsSync(slow.started), 15000, daemon);
  return { env, daemon };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function logLines(proc: Managed): Array<Record<string, unknown>> {
  return proc
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

t.test('SIGTERM: the apply in flight finishes, the watchers stop, and the process exits 0 before the deadline', async (t) => {
  const { env, daemon } = await applyInFlight(t, 1);
  const reloadsBefore = await env.reloads();
  daemon.child.kill('SIGTERM');
  const { code, signal } = await exited(daemon.child);
  t.equal(code, 0, 'exit status 0');
  t.equal(signal, null, 'not killed by the signal');
  t.equal(await env.reloads(), reloadsBefore + 1, 'the apply that was in flight reloaded HAProxy');
  t.match(readFileSync(env.paths.config, 'utf8'), `backend be_${NEW_HOST}_blue`, 'haproxy.cfg holds the change that was in flight');
  await env.until(NEW_HOST, { body: 'blue' });
  const logs = logLines(daemon);
  t.ok(logs.some((l) => l['msg'] === 'stopped'), 'the daemon logged a completed graceful stop');
  t.notOk(logs.some((l) => l['code'] === 'SHUTDOWN_TIMEOUT'), 'it did not need the deadline: every watcher and timer was released');
});

t.test('SIGTERM during an apply longer than the deadline: exits 0 at the deadline, haproxy.cfg stays whole', async (t) => {
  const { env, daemon } = await applyInFlight(t, 8);
  const before = readFileSync(env.paths.config, 'utf8');
  daemon.child.kill('SIGTERM');
  const { code } = await exited(daemon.child);
  t.equal(code, 0, 'exit status 0');
  t.ok(logLines(daemon).some((l) => l['code'] === 'SHUTDOWN_TIMEOUT'), 'the deadline ended the wait, and said so with its code');
  t.equal(readFileSync(env.paths.config, 'utf8'), before, 'the unfinished apply left the live config untouched');
  t.match((await env.get(HOST)).body, /^blue/, 'HAProxy keeps serving');
});

t.test('a second signal exits at once, with 128+signal', async (t) => {
  const { daemon } = await applyInFlight(t, 8);
  daemon.child.kill('SIGTERM');
  await waitUntil('the graceful stop to begin', async () => logLines(daemon).some((l) => l['msg'] === 'stopping'), 10000);
  daemon.child.kill('SIGINT');
  const { code } = await exited(daemon.child);
  t.equal(code, 130, 'exit status 128 + SIGINT');
  const logs = logLines(daemon);
  t.ok(logs.some((l) => l['msg'] === 'second stop signal; exiting now'), 'the forced exit is logged');
  t.notOk(logs.some((l) => l['code'] === 'SHUTDOWN_TIMEOUT' || l['msg'] === 'stopped'), 'neither the graceful path nor the deadline ended it');
});
