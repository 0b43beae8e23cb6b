// The pure certificate decisions: PEM blocks normalised, chains ordered,
// host coverage, expiry; and the edge parser on certificates made by openssl.
import t from 'tap';
import { join } from 'node:path';
import { certificateProblem, coversHost, orderChain, pemBlocks, type CertificateFacts } from '../../src/core/certificate.ts';
import { parseCertificate } from '../../src/sources/certificate-pem.ts';
import { makePki } from '../helpers/certs.ts';
import { tmpDir } from '../helpers/tmp.ts';

t.test('PEM blocks are found through blank lines, CRLF and comments, and re-wrapped', async (t) => {
  const text = 'Bag Attributes\r\n-----BEGIN CERTIFICATE-----\r\nQUJD\r\n\r\nREVG\r\n-----END CERTIFICATE-----\r\n\r\n\r\n-----BEGIN PRIVATE KEY-----\nR0hJ\n-----END PRIVATE KEY-----';
  const blocks = pemBlocks(text);
  t.same(blocks, [
    { label: 'CERTIFICATE', text: '-----BEGIN CERTIFICATE-----\nQUJDREVG\n-----END CERTIFICATE-----\n' },
    { label: 'PRIVATE KEY', text: '-----BEGIN PRIVATE KEY-----\nR0hJ\n-----END PRIVATE KEY-----\n' },
  ]);
  t.equal(pemBlocks('-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n'), 'a CERTIFICATE block is not base64');
  t.match(pemBlocks('-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nQUJD\n-----END RSA PRIVATE KEY-----'), /encrypted key/);
  t.same(pemBlocks('garbage'), []);
});

t.test('a chain is ordered leaf first, and a stranger is refused', async (t) => {
  const leaf = { subject: 'leaf', issuer: 'int' };
  const int = { subject: 'int', issuer: 'root' };
  const root = { subject: 'root', issuer: 'root' };
  t.same(orderChain(leaf, [root, int]), [leaf, int, root]);
  t.same(orderChain(leaf, []), [leaf]);
  t.match(orderChain(leaf, [int, { subject: 'other', issuer: 'x' }]), /1 certificate\(s\) that are not part of the leaf's chain \(first: other\)/);
});

t.test('host coverage follows TLS wildcard rules', async (t) => {
  t.ok(coversHost(['a.test'], 'a.test'));
  t.notOk(coversHost(['a.test'], 'b.test'));
  t.ok(coversHost(['*.a.test'], 'x.a.test'));
  t.notOk(coversHost(['*.a.test'], 'y.x.a.test'), 'one label only');
  t.notOk(coversHost(['*.a.test'], 'a.test'), 'not the bare domain');
  t.ok(coversHost(['*.a.test'], '*.a.test'), 'a wildcard vhost needs the wildcard name');
  t.notOk(coversHost(['x.a.test'], '*.a.test'));
});

t.test('expiry, not-yet-valid and names are judged at the time given', async (t) => {
  const leaf: CertificateFacts = { serial: 'AB', notBefore: Date.parse('2026-01-01T00:00:00Z'), notAfter: Date.parse('2026-03-01T00:00:00Z'), subject: 'CN=a.test', issuer: 'CN=int', names: ['a.test'] };
  t.equal(certificateProblem(leaf, 'a.test', Date.parse('2026-02-01T00:00:00Z')), null);
  t.equal(certificateProblem(leaf, 'a.test', Date.parse('2026-03-02T00:00:00Z')), 'expired on 2026-03-01T00:00:00.000Z (serial AB)');
  t.equal(certificateProblem(leaf, 'a.test', Date.parse('2025-12-01T00:00:00Z')), 'not valid before 2026-01-01T00:00:00.000Z (serial AB)');
  t.equal(certificateProblem(leaf, 'b.test', Date.parse('2026-02-01T00:00:00Z')), 'does not cover b.test (it names a.test; serial AB)');
});

t.test('certificates made by openssl: parsed, ordered, key checked, never quoted', async (t) => {
  const pki = makePki(join(tmpDir(t), 'pki'));
  const a = pki.leaf(['a.test', 'www.a.test']);
  const b = pki.leaf(['b.test']);
  const shuffled = parseCertificate(`${pki.caCert}\n\n${a.key}\n\n${pki.intermediateCert}\n\n${a.cert}`);
  if (typeof shuffled === 'string') throw new Error(shuffled);
  t.equal(shuffled.leaf.serial, a.serial);
  t.same(shuffled.leaf.names, ['a.test', 'www.a.test']);
  t.same(shuffled.chain, ['CN=Test Intermediate CA', 'CN=Test Root CA'], 'leaf, intermediate, root');
  t.notMatch(shuffled.pem, /\n\n/, 'no blank line survives');
  t.ok(shuffled.pem.endsWith('-----END PRIVATE KEY-----\n'), 'the key last, one trailing newline');
  t.ok(shuffled.pem.indexOf(a.cert.split('\n')[1] ?? '?') < shuffled.pem.indexOf(pki.intermediateCert.split('\n')[1] ?? '?'), 'the leaf first');
  const bad = [
    [parseCertificate(a.chain, b.key), /does not match/],
    [parseCertificate(a.chain), /no PEM private key/],
    [parseCertificate(a.chain, a.key, b.key), /2 private keys/],
    [parseCertificate('garbage'), /no PEM certificate/],
    [parseCertificate(a.cert.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA'), a.key), /does not parse|does not match/],
    [parseCertificate(a.cert, a.key.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA')), /does not parse|does not match/],
  ] as const;
  for (const [result, message] of bad) {
    t.match(result, message);
    t.notOk(String(result).includes(a.keyBody.slice(10, 30)), 'the message holds nothing of the key');
  }
});
