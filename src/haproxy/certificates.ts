/**
 * Certificates over the Runtime API, without a reload. HAProxy allows one
 * certificate transaction at a time per process, so every change runs to
 * its commit (or abort) before the next starts. The files are written
 * first, so a reload at any point loads what the commands set.
 */
import { join } from 'node:path';
import type { CertificateOp } from '../core/plan.ts';
import { errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import { ensureDir, writeIfChanged } from './files.ts';
import type { RuntimeClient } from './runtime.ts';

export type CertificateApi = Pick<
  RuntimeClient,
  'setSslCert' | 'commitSslCert' | 'abortSslCert' | 'newSslCert' | 'delSslCert' | 'addCrtListEntry' | 'delCrtListEntry' | 'showSslCert'
>;

export type CertificateOutcome = { readonly ok: true; readonly commands: number } | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

// What this process last wrote or found in each file: a renewal among 1,000 certificates
// then touches one file instead of reading all of them back.
const known = new Map<string, string>();

/**
 * Writes the crt-list and the certificate files (mode 600: they hold keys),
 * creating the directories. `trustKnown`: skip files this process already
 * wrote with this content (the Runtime API path); a reload compares with disk.
 */
export async function writeCertificateFiles(certsDir: string, files: Readonly<Record<string, string>>, trustKnown = false): Promise<void> {
  const dirs = new Set<string>();
  for (const [name, text] of Object.entries(files)) {
    const path = join(certsDir, name);
    if (trustKnown && known.get(path) === text) continue;
    const dir = join(path, '..');
    if (!dirs.has(dir)) await ensureDir(dir);
    dirs.add(dir);
    await writeIfChanged(path, text, 0o600);
    known.set(path, text);
  }
}

export async function applyCertificateOps(api: CertificateApi, ops: readonly CertificateOp[]): Promise<CertificateOutcome> {
  let commands = 0;
  for (const op of ops) {
    try {
      commands += await applyOne(api, op);
    } catch (err) {
      if (op.kind !== 'del-cert') await api.abortSslCert(op.file).catch(() => {});
      return { ok: false, code: certificateCode(err), message: `certificate ${op.file}: ${errorMessage(err)}` };
    }
  }
  return { ok: true, commands };
}

async function applyOne(api: CertificateApi, op: CertificateOp): Promise<number> {
  switch (op.kind) {
    case 'set-cert':
      await api.setSslCert(op.file, op.pem);
      await api.commitSslCert(op.file);
      return 2;
    case 'add-cert':
      await api.newSslCert(op.file);
      await api.setSslCert(op.file, op.pem);
      await api.commitSslCert(op.file);
      await api.addCrtListEntry(op.crtList, op.file, op.sni);
      return 4;
    case 'del-cert':
      await api.delCrtListEntry(op.crtList, op.file);
      await api.delSslCert(op.file);
      return 2;
  }
}

/** Reads every set or added certificate back: HAProxy must serve the new serial. */
export async function verifyCertificates(api: CertificateApi, ops: readonly CertificateOp[]): Promise<CertificateOutcome | null> {
  const problems: string[] = [];
  for (const op of ops) {
    if (op.kind === 'del-cert') continue;
    try {
      const live = await api.showSslCert(op.file);
      if (live.serial !== op.serial) problems.push(`${op.file} serves serial ${live.serial}, expected ${op.serial}`);
    } catch (err) {
      return { ok: false, code: certificateCode(err), message: `reading certificate ${op.file} back failed: ${errorMessage(err)}` };
    }
  }
  if (problems.length === 0) return null;
  return { ok: false, code: 'HAPROXY_STATE_MISMATCH', message: `after the certificate changes, ${problems.slice(0, 3).join('; ')}` };
}

function certificateCode(err: unknown): ErrorCode {
  switch (errorCode(err)) {
    case 'HAPROXY_COMMAND_FAILED':
    case 'HAPROXY_INVALID_ARGUMENT':
      return 'HAPROXY_COMMAND_FAILED';
    default:
      return 'HAPROXY_UNREACHABLE';
  }
}
