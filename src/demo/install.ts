/** Makes sure haproxy, etcd and etcdctl are there: installs them with apt-get as root, otherwise says how. */
import { execFileSync, spawnSync } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { HAPROXY_BIN_VARIABLE, haproxyBinary } from './haproxy-binary.ts';

const NEEDED = [
  { binary: haproxyBinary(), pkg: 'haproxy' },
  { binary: 'etcd', pkg: 'etcd-server' },
  { binary: 'etcdctl', pkg: 'etcd-client' },
];

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

/** Returns null when everything is there (installing it if root can), or the message to show. */
export function ensureSystemPackages(): string | null {
  const chosen = haproxyBinary();
  if (isAbsolute(chosen) && !onPath(chosen)) return `${HAPROXY_BIN_VARIABLE}=${chosen}: no such executable`;
  const missing = NEEDED.filter((n) => !onPath(n.binary)).map((n) => n.pkg);
  if (missing.length === 0) return null;
  const line = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) return `missing ${missing.join(', ')}; install them first: sudo sh -c '${line}'`;
  process.stdout.write(`installing ${missing.join(', ')} with apt-get...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit', env });
  const still = NEEDED.filter((n) => !onPath(n.binary)).map((n) => n.pkg);
  return still.length === 0 ? null : `apt-get did not provide ${still.join(', ')}`;
}
