/** A fake HAProxy on a UNIX socket, for tests of how the clients read answers. */
import { createServer, type Server } from 'node:net';
import type { Teardown } from './tmp.ts';

export type Answer = (command: string) => string;

/**
 * Reads commands until the client half-closes, then answers them all. With
 * "prompt" first (the admin socket's interactive mode), each answer ends
 * with a blank line and "> ", as HAProxy's do. Returns every command seen.
 */
export async function fakeHaproxy(t: Teardown, path: string, answer: Answer): Promise<string[]> {
  const seen: string[] = [];
  const server: Server = createServer((socket) => {
    let input = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (input += chunk));
    socket.on('end', () => {
      const commands = input.split('\n').filter((line) => line !== '');
      seen.push(...commands);
      if (commands[0] === 'prompt') {
        socket.end(['\n> ', ...commands.slice(1).map((c) => withPrompt(answer(c)))].join(''));
      } else {
        socket.end(`${commands.map(answer).join('\n')}\n\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return seen;
}

function withPrompt(body: string): string {
  return body === '' ? '\n> ' : `${body}\n\n> `;
}

/** `show proc` as HAProxy 3.0 prints it. */
export const SHOW_PROC_30 = [
  '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
  '100             master          0 [failed: 0]   0d00h00m10s     3.0.11-1+deb13u4',
  '# workers',
  '101             worker          0               0d00h00m10s     3.0.11-1+deb13u4',
  '# programs',
].join('\n');
