/**
 * Starting and stopping the local processes the demo (and the tests) need:
 * etcd and HAProxy in master-worker mode, each in its own directory on
 * loopback ports. Output is kept so a failure can say what the process said.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { MasterClient } from '../haproxy/master.ts';
import { haproxyBinary } from './haproxy-binary.ts';
import { sleep } from '../sources/backoff.ts';

export interface Managed {
  readonly child: ChildProcess;
  /** The last lines the process wrote, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A crash of ours must not leave HAProxy or etcd holding ports for the next run.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function launch(command: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Managed {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  const keep = (chunk: Buffer): void => {
    out = (out + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`\n${err.message}\n`)));
  return { child, output: () => out, stop: () => stopChild(child) };
}

export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A port free on 127.0.0.1 right now (the caller binds it soon after). Picked
 * at random below Linux's ephemeral range (32768+), where the kernel never
 * hands out ports for outgoing connections, so it stays free meanwhile.
 */
export async function freePort(preferred = 0): Promise<number> {
  if (preferred && (await canBind(preferred))) return preferred;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canBind(port)) return port;
  }
  throw new Error('no free port found on 127.0.0.1 in 20000-31999');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Polls until `ready` resolves true, or throws with the process output after `timeoutMs`. */
export async function waitUntil(what: string, ready: () => Promise<boolean>, timeoutMs: number, proc?: Managed): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what}: process exited (${proc.child.exitCode}): ${proc.output()}`);
    if (await ready().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms${proc ? `: ${proc.output()}` : ''}`);
}

export interface EtcdProcess extends Managed {
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

/** A single-member etcd; `clientPort` and `peerPort` let a restarted etcd come back at the same address. */
export async function startEtcd(opts: { dataDir: string; clientPort?: number; peerPort?: number; binary?: string }): Promise<EtcdProcess> {
  const clientPort = opts.clientPort ?? (await freePort());
  const peerPort = opts.peerPort ?? (await freePort());
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc = launch(opts.binary ?? 'etcd', [
    '--name', 'local',
    '--data-dir', opts.dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `local=${peer}`,
    '--log-level', 'error',
  ]);
  await waitUntil('etcd', async () => (await fetch(`${endpoint}/health`)).ok, 20000, proc);
  return { ...proc, endpoint, clientPort, peerPort, dataDir: opts.dataDir };
}

export interface HaproxyProcess extends Managed {
  readonly masterSocket: string;
}

/** Just enough for HAProxy to start with an admin socket; the daemon replaces it on its first apply. */
export function bootstrapConfig(adminSocket: string): string {
  return `global\n    stats socket ${adminSocket} mode 600 level admin expose-fd listeners\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n`;
}

/** HAProxy in master-worker mode (-W) with a master CLI socket (-S), as systemd runs it. */
export async function startHaproxy(opts: { config: string; masterSocket: string; pidFile: string; binary?: string; timeoutMs?: number }): Promise<HaproxyProcess> {
  const proc = launch(opts.binary ?? haproxyBinary(), ['-W', '-S', `${opts.masterSocket},mode,600`, '-f', opts.config, '-p', opts.pidFile]);
  const master = new MasterClient({ socket: opts.masterSocket, timeoutMs: 1000 });
  try {
    await waitUntil('haproxy', async () => (await master.showProc()).workers.length > 0, opts.timeoutMs ?? 20000, proc);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { ...proc, masterSocket: opts.masterSocket };
}
