/** Tiny HTTP servers that play pods: each answers with its colour and name, and has a /healthz. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Pod {
  readonly colour: string;
  readonly name: string;
  /** The address it listens on: 127.0.0.1, or another loopback address playing a pod IP. */
  readonly address: string;
  readonly port: number;
  /** Makes /healthz answer 503 (or 200 again), to play an unhealthy pod. */
  setHealthy(healthy: boolean): void;
  /** Requests answered so far, health checks not counted; with `host`, only those for that Host header. */
  requests(host?: string): number;
  close(): Promise<void>;
}

export async function startPod(colour: string, name: string, port = 0, address = '127.0.0.1'): Promise<Pod> {
  let healthy = true;
  const requests = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(healthy ? 'ok\n' : 'unhealthy\n');
      return;
    }
    const host = (req.headers.host ?? '').split(':')[0] ?? '';
    requests.set(host, (requests.get(host) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'text/plain', 'x-colour': colour, 'x-pod': name });
    res.end(`${colour} ${name}\n`);
  });
  server.keepAliveTimeout = 30000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    colour,
    name,
    address,
    port: (server.address() as AddressInfo).port,
    setHealthy: (h) => {
      healthy = h;
    },
    requests: (host) => (host === undefined ? [...requests.values()].reduce((a, b) => a + b, 0) : (requests.get(host) ?? 0)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
