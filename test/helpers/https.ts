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

export interface HttpsLoad {
  stop(): Promise<{ ok: number; failed: number; failures: Record<string, number>; serials: Set<string> }>;
}

/** Closed-loop HTTPS clients, some keeping their connection, some opening one per request; every failure counted. */
export function startHttpsLoad(opts: { port: number; host: string; ca: string; keepAlive: number; fresh: number; maxMs: number }): HttpsLoad {
  const result = { ok: 0, failed: 0, failures: {} as Record<string, number>, serials: new Set<string>() };
  const deadline = Date.now() + opts.maxMs;
  let stopped = false;
  const agents = [
    ...Array.from({ length: opts.keepAlive }, () => new Agent({ keepAlive: true, maxSockets: 1 })),
    // No session cache: every new connection is a full handshake, which shows the certificate served now.
    ...Array.from({ length: opts.fresh }, () => new Agent({ keepAlive: false, maxCachedSessions: 0 })),
  ];
  const client = async (agent: Agent): Promise<void> => {
    while (!stopped && Date.now() < deadline) {
      try {
        const res = await httpsGet(opts.port, opts.host, { ca: opts.ca, agent });
        result.serials.add(res.serial);
        if (res.status === 200) {
          result.ok++;
          continue;
        }
        result.failed++;
        result.failures[`status ${res.status}`] = (result.failures[`status ${res.status}`] ?? 0) + 1;
      } catch (err) {
        const kind = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
        result.failed++;
        result.failures[kind] = (result.failures[kind] ?? 0) + 1;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const loops = agents.map(client);
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
      return result;
    },
  };
}
