/**
 * Certificates, the pure part: PEM text split into blocks and normalised,
 * chains put in order, and the decisions about whether a certificate may
 * serve a vhost. Parsing the DER inside the blocks (and matching the key)
 * happens at the edge, which hands in the facts below.
 *
 * No message built here ever quotes the input: a PEM may hold a private key.
 */

/** What the edge read out of one X.509 certificate. */
export interface CertificateFacts {
  /** Upper-case hex, no separators, leading zeros dropped (as HAProxy's `show ssl cert` prints it once those are dropped). */
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subject: string;
  readonly issuer: string;
  /** DNS names from the subjectAltName, or the common name when there is none; lower case. */
  readonly names: readonly string[];
}

/** A certificate ready for HAProxy: the PEM (leaf, intermediates, key) and the leaf's facts. */
export interface ParsedCertificate {
  readonly pem: string;
  readonly leaf: CertificateFacts;
  /** Subjects of the certificates after the leaf, in order. */
  readonly chain: readonly string[];
}

export interface PemBlock {
  /** "CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", … */
  readonly label: string;
  /** The block re-wrapped at 64 columns, BEGIN and END lines included, ending with one newline. */
  readonly text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,64})-----([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/=]*$/;

/**
 * Every PEM block in `text`, whatever lies between them (blank lines, "Bag
 * Attributes" lines, CRLF). A block whose body is not base64, or that holds
 * headers (encrypted keys), is refused: HAProxy could not load it unattended.
 */
export function pemBlocks(text: string): PemBlock[] | string {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const label = m[1] ?? '';
    const raw = m[2] ?? '';
    if (raw.includes(':')) return `a ${label} block has PEM headers (an encrypted key?); give it unencrypted`;
    const body = raw.replace(/\s+/g, '');
    if (body === '' || !BASE64.test(body)) return `a ${label} block is not base64`;
    const lines = body.match(/.{1,64}/g) ?? [];
    blocks.push({ label, text: `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n` });
  }
  return blocks;
}

export function isPrivateKeyLabel(label: string): boolean {
  return /(^|\s)PRIVATE KEY$/.test(label);
}

/**
 * The leaf first, then each issuer in turn, as a TLS server must send them.
 * A certificate that is no link of the leaf's chain is refused: it is most
 * likely the wrong file, and sending it would confuse clients.
 */
export function orderChain<T extends { readonly subject: string; readonly issuer: string }>(leaf: T, others: readonly T[]): T[] | string {
  const ordered = [leaf];
  const rest = [...others];
  let current = leaf;
  while (rest.length > 0 && current.issuer !== current.subject) {
    const i = rest.findIndex((c) => c.subject === current.issuer);
    if (i < 0) break;
    current = rest.splice(i, 1)[0] ?? current;
    ordered.push(current);
  }
  if (rest.length > 0) return `holds ${rest.length} certificate(s) that are not part of the leaf's chain (first: ${rest[0]?.subject ?? '?'})`;
  return ordered;
}

/** Whether a certificate naming `names` is valid for `host` (one wildcard label at the left, as TLS clients match). */
export function coversHost(names: readonly string[], host: string): boolean {
  return names.some((name) => {
    if (name === host) return true;
    if (!name.startsWith('*.')) return false;
    const suffix = name.slice(1);
    // "*.example.com" covers "a.example.com" and the wildcard vhost "*.example.com", not "a.b.example.com".
    if (host === name) return true;
    return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes('.') && host.length > suffix.length;
  });
}

/** Why `leaf` must not serve `host` at `nowMs`, or null when it may. */
export function certificateProblem(leaf: CertificateFacts, host: string, nowMs: number): string | null {
  if (leaf.notAfter <= nowMs) return `expired on ${new Date(leaf.notAfter).toISOString()} (serial ${leaf.serial})`;
  if (leaf.notBefore > nowMs) return `not valid before ${new Date(leaf.notBefore).toISOString()} (serial ${leaf.serial})`;
  if (!coversHost(leaf.names, host)) return `does not cover ${host} (it names ${leaf.names.join(', ') || 'nothing'}; serial ${leaf.serial})`;
  return null;
}

/** The file name under the certificates directory that holds a vhost's certificate; "*" of a wildcard written as "_". */
export function certificateFile(host: string): string {
  return `${host.replace('*', '_')}.pem`;
}
