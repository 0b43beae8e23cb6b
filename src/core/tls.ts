/**
 * Which certificate serves a vhost over HTTPS. A certificate that cannot
 * serve its host (missing, unparsable, expired, for other names) is a
 * problem of that vhost alone, and the certificate it served before keeps
 * serving: renewals fail far more often than hosts should go dark.
 */
import { certificateProblem } from './certificate.ts';
import { certificateKey, type CertificateEntry, type CertificatesSnapshot, type DesiredState, type Problem, type VHostSpec, type VHostTls } from './model.ts';

export interface TlsInput {
  /** null: no certificate source is configured. */
  readonly certificates: CertificatesSnapshot | null;
  /** The time certificates are judged at (expiry). */
  readonly nowMs: number;
  /** The desired state HAProxy runs now, whose certificates are the last good ones. */
  readonly previous: DesiredState | null;
}

/** undefined: the vhost asks for no certificate (the VHost then carries no tls field at all). */
export function vhostTls(
  host: string,
  spec: VHostSpec,
  specSource: string,
  input: TlsInput | undefined,
  previous: VHostTls | null,
  problems: Problem[],
): VHostTls | null | undefined {
  if (!spec.tls) return undefined;
  const options = { redirect: spec.redirect === true, hsts: spec.hsts ?? null };
  const found = lookup(spec, specSource, input?.certificates ?? null);
  let problem: Problem;
  if ('problem' in found) {
    problem = { ...found.problem, host };
  } else {
    const parsed = found.entry.parsed;
    const why = parsed ? certificateProblem(parsed.leaf, host, input?.nowMs ?? 0) : (found.entry.problem ?? 'does not parse');
    if (parsed && why === null) return { source: found.entry.source, pem: parsed.pem, leaf: parsed.leaf, chain: parsed.chain, ...options, kept: false };
    problem = { code: 'CERTIFICATE_INVALID', host, source: found.entry.source, message: why ?? 'does not parse' };
  }
  const kept = previous ? `; the last good certificate (serial ${previous.leaf.serial}) keeps serving` : '; the host is not served over HTTPS until this is fixed';
  problems.push({ ...problem, message: `${problem.message}${kept}` });
  return previous ? { ...previous, ...options, kept: true } : null;
}

function lookup(spec: VHostSpec, specSource: string, certs: CertificatesSnapshot | null): { entry: CertificateEntry } | { problem: Problem } {
  const ref = spec.tls;
  if (!ref) throw new Error('lookup needs a tls reference');
  const missing = (message: string): { problem: Problem } => ({ problem: { code: 'CERTIFICATE_MISSING', source: `${specSource} (tls)`, message } });
  const entry = certs?.certificates[certificateKey(ref)];
  if (entry) return { entry };
  if (ref.kind === 'secret') {
    const what = `Secret ${ref.namespace}/${ref.name}`;
    if (!certs?.secretNamespaces) return missing(`${what}: no Secrets are read (set kubernetes.secretNamespaces)`);
    if (!certs.secretNamespaces.includes(ref.namespace)) return missing(`${what}: namespace ${ref.namespace} is not in kubernetes.secretNamespaces (${certs.secretNamespaces.join(', ') || 'none'})`);
    return missing(`${what} does not exist, or is not of type kubernetes.io/tls`);
  }
  if (!certs?.fileDir) return missing(`certificate file ${ref.name}: no certificates directory is configured (set tls.dir)`);
  return missing(`certificate file ${certs.fileDir}/${ref.name} does not exist`);
}

/** Several certificate sources as one; a key both know is taken from the later one. */
export function mergeCertificates(snapshots: readonly CertificatesSnapshot[]): CertificatesSnapshot | null {
  if (snapshots.length === 0) return null;
  if (snapshots.length === 1) return snapshots[0] ?? null;
  return {
    certificates: Object.assign({}, ...snapshots.map((s) => s.certificates)) as CertificatesSnapshot['certificates'],
    secretNamespaces: snapshots.find((s) => s.secretNamespaces)?.secretNamespaces ?? null,
    fileDir: snapshots.find((s) => s.fileDir)?.fileDir ?? null,
  };
}
