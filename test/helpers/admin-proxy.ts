/**
 * A UNIX socket in front of HAProxy's admin socket that records every
 * command line and can make HAProxy refuse chosen ones: a matching command
 * has its server name replaced by one that does not exist, so HAProxy itself
 * answers with its own refusal. For tests of how the daemon copes.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Teardown } from './tmp.ts';

export interface AdminProxy {
  readonly path: string;
  /** Every command line the daemon sent, in order. */
  readonly commands: string[];
  /** Commands matching this are refused by HAProxy from now on; null refuses none. */
  refuse(pattern: RegExp | null): void;
}

export async function startAdminProxy(t: Teardown, path: string, upstream: string): Promise<AdminProxy> {
  const commands: string[] = [];
  let refused: RegExp | null = null;
  const sockets = new Set<Socket>();
  // The client half-closes after its commands; the answers still have to reach it.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const haproxy = createConnection(upstream);
    sockets.add(client).add(haproxy);
    let pending = '';
    client.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        commands.push(line);
        const out = refused?.test(line) ? line.replace(/^(set server [^/]+\/)\S+/, '$1no-such-server') : line;
        haproxy.write(`${out}\n`);
      }
    });
    client.on('end', () => haproxy.end(pending));
    haproxy.pipe(client);
    const close = (): void => {
      client.destroy();
      haproxy.destroy();
    };
    client.on('error', close);
    haproxy.on('error', close);
    client.on('close', () => sockets.delete(client));
    haproxy.on('close', () => sockets.delete(haproxy));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { path, commands, refuse: (pattern) => void (refused = pattern) };
}
