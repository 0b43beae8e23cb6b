/**
 * The certificate HTTPS answers names it has no certificate for. HAProxy
 * needs one on the bind line; it is made once with the openssl command (a
 * self-signed EC key, CN haproxy-sync-default) and kept. Clients that check
 * certificates refuse it; those that do not get the 404 of be_no_vhost,
 * which says plainly that no such vhost is served, where a closed
 * connection would look like a network fault.
 */
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_CERT } from '../core/render.ts';
import { ensureDir, readText, writeAtomic } from './files.ts';

const run = promisify(execFile);

/** Makes certsDir/default.pem unless a certificate is already there. */
export async function ensureDefaultCertificate(certsDir: string): Promise<void> {
  const path = join(certsDir, DEFAULT_CERT);
  if ((await readText(path))?.includes('PRIVATE KEY')) return;
  await ensureDir(certsDir);
  const key = join(certsDir, `.default.${process.pid}.key`);
  const cert = join(certsDir, `.default.${process.pid}.crt`);
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650', '-subj', '/CN=haproxy-sync-default', '-keyout', key, '-out', cert]);
    await writeAtomic(path, (await readFile(cert, 'utf8')) + (await readFile(key, 'utf8')), 0o600);
  } finally {
    await rm(key, { force: true });
    await rm(cert, { force: true });
  }
}
