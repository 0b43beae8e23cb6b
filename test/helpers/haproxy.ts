import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHaproxy as launchHaproxy, waitUntil } from '../../src/demo/processes.ts';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';
import type { ChildProcess } from 'node:child_process';

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

/** Runs `haproxy -W -S` in the foreground and resolves once the master, a worker and (if configured) the admin socket answer. */
export async function startHaproxy(opts: StartHaproxyOptions): Promise<HaproxyProcess> {
  const configPath = join(opts.dir, 'haproxy.cfg');
  const masterSocket = join(opts.dir, 'master.sock');
  const adminSocket = join(opts.dir, 'admin.sock');
  const pidFile = join(opts.dir, 'haproxy.pid');
  writeFileSync(configPath, opts.config);
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  const proc = await launchHaproxy({ config: configPath, masterSocket, pidFile, timeoutMs, ...(opts.binary ? { binary: opts.binary } : {}) });
  if (opts.config.includes(adminSocket)) {
    const admin = new RuntimeClient({ socket: adminSocket, timeoutMs: 200 });
    await waitUntil('haproxy admin socket', async () => Boolean(await admin.showInfo()), timeoutMs, proc);
  }
  return {
    dir: opts.dir,
    configPath,
    masterSocket,
    adminSocket,
    pidFile,
    child: proc.child,
    output: proc.output,
    writeConfig: (config) => writeFileSync(configPath, config),
    stop: proc.stop,
  };
}
