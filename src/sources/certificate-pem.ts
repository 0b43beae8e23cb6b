/**
 * Reads certificates and keys with node:crypto and hands the core its facts.
 * Certificate sources (Secrets, files) call this on every new content.
 *
 * Error messages name the block and the problem, never the content, and
 * never pass on OpenSSL's text for the key: nothing of a key may reach a log.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isPrivateKeyLabel, orderChain, pemBlocks, type CertificateFacts, type ParsedCertificate, type PemBlock } from '../core/certificate.ts';

interface Loaded {
  readonly subject: string;
  readonly issuer: string;
  readonly block: PemBlock;
  readonly x509: X509Certificate;
  readonly facts: CertificateFacts;
}

/** Parses the concatenation of `texts` (a combined file, or a Secret's tls.crt and tls.key). */
export function parseCertificate(...texts: string[]): ParsedCertificate | string {
  const blocks = pemBlocks(texts.join('\n'));
  if (typeof blocks === 'string') return blocks;
  const keys = blocks.filter((b) => isPrivateKeyLabel(b.label));
  const certBlocks = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (certBlocks.length === 0) return 'holds no PEM certificate';
  if (keys.length !== 1) return keys.length === 0 ? 'holds no PEM private key' : `holds ${keys.length} private keys; give exactly one`;
  const keyBlock = keys[0] as PemBlock;
  let key: KeyObject;
  try {
    key = createPrivateKey(keyBlock.text);
  } catch {
    return 'its private key does not parse';
  }
  const loaded: Loaded[] = [];
  for (const [i, block] of certBlocks.entries()) {
    try {
      const x509 = new X509Certificate(block.text);
      const facts = factsOf(x509);
      loaded.push({ subject: facts.subject, issuer: facts.issuer, block, x509, facts });
    } catch {
      return `certificate ${i + 1} of ${certBlocks.length} does not parse`;
    }
  }
  const leaf = loaded.find((c) => safeCheckKey(c.x509, key));
  if (!leaf) return 'the private key does not match any of its certificates';
  const ordered = orderChain(
    leaf,
    loaded.filter((c) => c !== leaf),
  );
  if (typeof ordered === 'string') return ordered;
  return {
    pem: [...ordered.map((c) => c.block.text), keyBlock.text].join(''),
    leaf: leaf.facts,
    chain: ordered.slice(1).map((c) => c.facts.subject),
  };
}

function safeCheckKey(x509: X509Certificate, key: KeyObject): boolean {
  try {
    return x509.checkPrivateKey(key);
  } catch {
    return false;
  }
}

function factsOf(x509: X509Certificate): CertificateFacts {
  const dns = (x509.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4).toLowerCase());
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1]?.toLowerCase();
  return {
    serial: normaliseSerial(x509.serialNumber),
    notBefore: Date.parse(x509.validFrom),
    notAfter: Date.parse(x509.validTo),
    subject: x509.subject.replace(/\n/g, ', '),
    issuer: x509.issuer.replace(/\n/g, ', '),
    names: dns.length > 0 ? dns : cn ? [cn] : [],
  };
}

/** One spelling of a serial number, so that ours and HAProxy's compare equal. */
export function normaliseSerial(serial: string): string {
  return serial.replace(/[^0-9A-Fa-f]/g, '').toUpperCase().replace(/^0+(?=.)/, '');
}
