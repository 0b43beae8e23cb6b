/**
 * HTTPS requests as a browser makes them: to 127.0.0.1 with the vhost as
 * SNI and Host, checked against the test's root CA only (so the server must
 * send the intermediate), reporting the served certificate.
 */
import { Agent, request } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';

export interface HttpsResult {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Upper-case hex without leading zeros. */
  readonly serial: string;
  /** Subject CNs from the leaf up, as the client verified them. */
  readonly chain: readonly string[];
}

export interface HttpsOptions {
  readonly ca?: string;
  /** Skip verification (for the default certificate). */
  readonly insecure?: boolean;
  readonly method?: string;
  readonly path?: string;
  readonly agent?: Agent;
  readonly servername?: string;
}

export function httpsGet(port: number, host: string, opts: HttpsOptions = {}): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/',
        method: opts.method ?? 'GET',
        servername: opts.servername ?? host,
        headers: { host },
        ...(opts.ca ? { ca: opts.ca } : {}),
        rejectUnauthorized: !opts.insecure,
        agent: opts.agent ?? new Agent({ keepAlive: false }),
        timeout: 5000,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerCertificate(true);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, serial: (peer.serialNumber ?? '').toUpperCase().replace(/^0+(?=.)/, ''), chain: chainOf(peer) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`HTTPS ${host}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function chainOf(peer: PeerCertificate & { issuerCertificate?: PeerCertificate }): string[] {
  const out: string[] = [];
  let current: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = peer;
  while (current && out.length < 5) {
    const cn = current.subject?.CN;
    out.push(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
    const next: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = current.issuerCertificate;
    if (!next || next === current || next.fingerprint256 === current.fingerprint256) break;
    current = next;
  }
  return out;
}
