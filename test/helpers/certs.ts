/**
 * A small PKI made with the openssl command, as operators make theirs: a
 * root CA, an intermediate, and leaf certificates signed by the
 * intermediate (EC P-256 keys, quick to make).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Leaf {
  /** The leaf certificate alone. */
  readonly cert: string;
  readonly key: string;
  /** Leaf then intermediate, as a Secret's tls.crt holds it. */
  readonly chain: string;
  /** chain + key: a combined file as HAProxy reads it. */
  readonly combined: string;
  /** Upper-case hex without leading zeros. */
  readonly serial: string;
  /** The base64 body of the key, to look for in captured output. */
  readonly keyBody: string;
}

export interface Pki {
  readonly dir: string;
  /** Path of the root CA certificate, for curl --cacert. */
  readonly caFile: string;
  readonly caCert: string;
  readonly intermediateCert: string;
  leaf(names: readonly string[], opts?: { startDate?: string; endDate?: string }): Leaf;
}

let counter = 0;

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function caConfig(dir: string, name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'index.txt'), '');
  writeFileSync(join(d, 'serial'), '1000\n');
  const cnf = join(d, 'ca.cnf');
  writeFileSync(
    cnf,
    [
      '[ca]',
      'default_ca = ca_default',
      '[ca_default]',
      `dir = ${d}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'new_certs_dir = $dir',
      'default_md = sha256',
      'policy = policy_any',
      'unique_subject = no',
      'copy_extensions = copy',
      'default_days = 30',
      '[policy_any]',
      'commonName = supplied',
      '[v3_ca]',
      'basicConstraints = critical,CA:true',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '[v3_leaf]',
      'basicConstraints = critical,CA:false',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = serverAuth',
      '',
    ].join('\n'),
  );
  return cnf;
}

function key(dir: string, file: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir);
}

export function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  key(dir, 'ca.key');
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Test Root CA', '-days', '3650', '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt'], dir);
  key(dir, 'int.key');
  openssl(['req', '-new', '-key', 'int.key', '-subj', '/CN=Test Intermediate CA', '-out', 'int.csr'], dir);
  const rootCnf = caConfig(dir, 'root-ca');
  openssl(['ca', '-batch', '-config', rootCnf, '-extensions', 'v3_ca', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-rand_serial', '-days', '3650', '-in', 'int.csr', '-out', 'int.crt', '-notext'], dir);
  const intCnf = caConfig(dir, 'int-ca');
  const caCert = readFileSync(join(dir, 'ca.crt'), 'utf8');
  const intermediateCert = readFileSync(join(dir, 'int.crt'), 'utf8');
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    caCert,
    intermediateCert,
    leaf(names, opts = {}) {
      const id = `leaf-${process.pid}-${++counter}`;
      key(dir, `${id}.key`);
      const san = names.map((n) => `DNS:${n}`).join(',');
      openssl(['req', '-new', '-key', `${id}.key`, '-subj', `/CN=${names[0] ?? 'leaf'}`, '-addext', `subjectAltName=${san}`, '-out', `${id}.csr`], dir);
      const dates = [...(opts.startDate ? ['-startdate', opts.startDate] : []), ...(opts.endDate ? ['-enddate', opts.endDate] : ['-days', '30'])];
      openssl(['ca', '-batch', '-config', intCnf, '-extensions', 'v3_leaf', '-cert', 'int.crt', '-keyfile', 'int.key', '-rand_serial', ...dates, '-in', `${id}.csr`, '-out', `${id}.crt`, '-notext'], dir);
      const cert = readFileSync(join(dir, `${id}.crt`), 'utf8');
      const keyText = readFileSync(join(dir, `${id}.key`), 'utf8');
      const serialOut = execFileSync('openssl', ['x509', '-noout', '-serial', '-in', `${id}.crt`], { cwd: dir, encoding: 'utf8' });
      const serial = serialOut.trim().replace(/^serial=/, '').toUpperCase().replace(/^0+(?=.)/, '');
      const chain = cert + intermediateCert;
      const keyBody = keyText.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('');
      return { cert, key: keyText, chain, combined: chain + keyText, serial, keyBody };
    },
  };
}
