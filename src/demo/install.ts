/** Makes sure haproxy, etcd and etcdctl (and what else is asked for) are there: installs them with apt-get as root, otherwise says how. */
import { execFileSync, spawnSync } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { HAPROXY_BIN_VARIABLE, haproxyBinary } from './haproxy-binary.ts';

export interface Needed {
  readonly binary: string;
  readonly pkg: string;
}

const NEEDED: readonly Needed[] = [
  { binary: haproxyBinary(), pkg: 'haproxy' },
  { binary: 'etcd', pkg: 'etcd-server' },
  { binary: 'etcdctl', pkg: 'etcd-client' },
];

/** What the tests need besides: Chromium for the console, openssl for certificates, systemd-analyze and python3 for the unit tests. */
export const TEST_NEEDS: readonly Needed[] = [
  { binary: 'chromium', pkg: 'chromium' },
  { binary: 'openssl', pkg: 'openssl' },
  { binary: 'systemd-analyze', pkg: 'systemd' },
  { binary: 'python3', pkg: 'python3' },
];

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

/** Returns null when everything is there (installing it if root can), or the message to show. */
export function ensureSystemPackages(extra: readonly Needed[] = []): string | null {
  const chosen = haproxyBinary();
  if (isAbsolute(chosen) && !onPath(chosen)) return `${HAPROXY_BIN_VARIABLE}=${chosen}: no such executable`;
  const needed = [...NEEDED, ...extra];
  const missing = needed.filter((n) => !onPath(n.binary)).map((n) => n.pkg);
  if (missing.length === 0) return null;
  const line = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) return `missing ${missing.join(', ')}; install them first: sudo sh -c '${line}'`;
  process.stdout.write(`installing ${missing.join(', ')} with apt-get...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit', env });
  const still = needed.filter((n) => !onPath(n.binary)).map((n) => n.pkg);
  return still.length === 0 ? null : `apt-get did not provide ${still.join(', ')}`;
}
