/** Runs etcdctl (v3 API) against `endpoint`, as an operator would; resolves with its exit code. */
import { spawn } from 'node:child_process';

export function etcdctl(endpoint: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}
