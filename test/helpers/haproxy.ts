import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MasterClient } from '../../src/haproxy/master.ts';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';

export interface StartHaproxyOptions {
  dir: string;
  /** The whole haproxy.cfg; start it with baseGlobal(dir) to get the admin socket. */
  config: string;
  binary?: string;
  startTimeoutMs?: number;
}

export interface HaproxyProcess {
  readonly dir: string;
  readonly configPath: string;
  readonly masterSocket: string;
  readonly adminSocket: string;
  readonly pidFile: string;
  readonly child: ChildProcess;
  /** Everything HAProxy printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Rewrites the config file; takes effect on the next reload. */
  writeConfig(config: string): void;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A crashed test must not leave HAProxy bound to ports for the next run.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The standard global and defaults sections for tests: admin socket in `dir`, reload-friendly keep-alive. */
export function baseGlobal(dir: string): string {
  return `global
  stats socket ${join(dir, 'admin.sock')} mode 600 level admin expose-fd listeners
  stats timeout 30s
  hard-stop-after 5s

defaults
  mode http
  option idle-close-on-response
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  timeout http-request 5s
  timeout http-keep-alive 2s

`;
}

/** Runs `haproxy -W -S` in the foreground and resolves once the master and a worker answer. */
export async function startHaproxy(opts: StartHaproxyOptions): Promise<HaproxyProcess> {
  const configPath = join(opts.dir, 'haproxy.cfg');
  const masterSocket = join(opts.dir, 'master.sock');
  const adminSocket = join(opts.dir, 'admin.sock');
  const pidFile = join(opts.dir, 'haproxy.pid');
  writeFileSync(configPath, opts.config);
  const args = ['-W', '-S', masterSocket, '-f', configPath, '-p', pidFile];
  const child = spawn(opts.binary ?? 'haproxy', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      output += `\nspawn error: ${err.message}`;
      resolve();
    });
  });
  void exited.then(() => running.delete(child));

  const proc: HaproxyProcess = {
    dir: opts.dir,
    configPath,
    masterSocket,
    adminSocket,
    pidFile,
    child,
    output: () => output,
    writeConfig: (config) => writeFileSync(configPath, config),
    stop: () => stopChild(child, exited),
  };
  try {
    await waitUntilUp(proc, opts.config.includes(adminSocket), opts.startTimeoutMs ?? 10_000);
  } catch (err) {
    await proc.stop();
    throw new Error(`HAProxy did not start: ${(err as Error).message}\n--- haproxy output ---\n${output}`);
  }
  return proc;
}

async function waitUntilUp(proc: HaproxyProcess, hasAdmin: boolean, timeoutMs: number): Promise<void> {
  const master = new MasterClient({ socket: proc.masterSocket, timeoutMs: 200 });
  const admin = new RuntimeClient({ socket: proc.adminSocket, timeoutMs: 200 });
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    if (!running.has(proc.child)) throw new Error(`haproxy exited (${proc.child.exitCode ?? proc.child.signalCode})`);
    try {
      const procs = await master.showProc();
      if (procs.workers.length > 0 && (!hasAdmin || (await admin.showInfo()))) return;
    } catch (err) {
      last = err;
    }
    await sleep(20);
  }
  throw new Error(`not up within ${timeoutMs} ms; last error: ${String(last)}`);
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (!running.has(child)) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(killer);
}
