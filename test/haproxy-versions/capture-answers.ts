/**
 * Records what each HAProxy version really answers to the commands
 * haproxy-sync sends, into test/fixtures/haproxy-answers/<series>.json, for
 * the parser tests (test/unit/haproxy-answers.test.ts). Run it again after
 * test/haproxy-versions/install.sh brings a new version:
 *
 *   npx node test/haproxy-versions/capture-answers.ts [BINARY...]
 *
 * Without arguments: every binary install.sh made.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { MasterClient } from '../../src/haproxy/master.ts';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';
import { parseVersion, series, TESTED_SERIES } from '../../src/haproxy/version.ts';
import { baseGlobal, startHaproxy } from '../helpers/haproxy.ts';
import { freePort } from '../helpers/ports.ts';
import { tmpDir } from '../helpers/tmp.ts';

const OUT = new URL('../fixtures/haproxy-answers/', import.meta.url).pathname;
const CACHE = process.env.HAPROXY_VERSIONS_DIR ?? '/var/cache/haproxy-sync-test';

export interface AnswerFixture {
  /** First line of `haproxy -v`. */
  readonly haproxyV: string;
  /** Command (with what it was about) → HAProxy's answer, verbatim but for the closing blank line. */
  readonly answers: Readonly<Record<string, string>>;
}

async function capture(binary: string): Promise<AnswerFixture> {
  const cleanups: Array<() => void | Promise<void>> = [];
  const teardown = { teardown: (fn: () => void | Promise<void>) => void cleanups.push(fn) };
  try {
    const dir = tmpDir(teardown);
    const port = await freePort();
    const map = join(dir, 'hosts.map');
    writeFileSync(map, 'shop.example be_pods\n');
    const body = `frontend fe\n  bind 127.0.0.1:${port}\n  use_backend %[req.hdr(host),map(${map})]\nbackend be_pods\n  server-template srv 2 127.0.0.1:1 disabled\n`;
    const hp = await startHaproxy({ dir, config: baseGlobal(dir) + body, binary });
    cleanups.unshift(() => hp.stop());
    const master = new MasterClient({ socket: hp.masterSocket });
    const runtime = new RuntimeClient({ socket: hp.adminSocket });
    const answers: Record<string, string> = {};
    const ask = async (key: string, cmd: string, via: { command(c: string): Promise<string> } = runtime) => {
      answers[key] = await via.command(cmd);
    };

    await ask('master: show version', 'show version', master);
    await ask('master: show proc', 'show proc', master);
    await settle(master);
    await ask('master: reload', 'reload', master);
    await settle(master);
    await ask('admin: show version', 'show version');
    await ask('admin: set server addr, address and port change', 'set server be_pods/srv1 addr 127.0.0.2 port 8080');
    await ask('admin: set server addr, nothing changes', 'set server be_pods/srv1 addr 127.0.0.2 port 8080');
    await ask('admin: set server addr, only the port changes', 'set server be_pods/srv1 addr 127.0.0.2 port 8081');
    await ask('admin: set server addr, only the address changes', 'set server be_pods/srv1 addr 127.0.0.3 port 8081');
    await ask('admin: set server addr, no port given', 'set server be_pods/srv1 addr 127.0.0.3');
    await ask('admin: set server addr, IPv6', 'set server be_pods/srv1 addr ::1 port 8081');
    await ask('admin: set server addr, unknown server', 'set server be_pods/nope addr 127.0.0.2 port 8080');
    await ask('admin: set server state ready', 'set server be_pods/srv1 state ready');
    await ask('admin: set server state, unknown backend', 'set server nope/srv1 state ready');
    await ask('admin: set map', `set map ${map} shop.example be_other`);
    await ask('admin: set map, unknown key', `set map ${map} absent.example be_pods`);
    await ask('admin: show map', `show map ${map}`);
    await ask('admin: show map, unknown map', `show map ${join(dir, 'other.map')}`);
    await ask('admin: show servers state', 'show servers state be_pods');
    await ask('admin: show stat', 'show stat');
    await ask('admin: show info', 'show info');

    // A bind on a port in use: `haproxy -c` cannot see it, the reload fails.
    const busy = await holdPort();
    cleanups.unshift(() => new Promise<void>((resolve) => busy.server.close(() => resolve())));
    hp.writeConfig(`${baseGlobal(dir)}${body}frontend fe_busy\n  bind 127.0.0.1:${busy.port}\n`);
    await ask('master: reload, a bind on a port in use', 'reload', master);
    await settle(master);
    await ask('master: show proc, after a failed reload', 'show proc', master);
    hp.writeConfig(`${baseGlobal(dir)}${body}  not_a_keyword\n`);
    await ask('master: reload, an unknown keyword', 'reload', master);
    await settle(master);
    // A second reload while a slow one loads: from 3.1 it is refused. 2.6 drops the second connection.
    const slow = Array.from({ length: 5000 }, (_, i) => `backend be_${i}\n  server s 127.0.0.1:1 disabled\n`).join('');
    hp.writeConfig(baseGlobal(dir) + body + slow);
    const first = master.command('reload').catch(() => '');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await master.command('reload').catch(() => '');
    await first;
    if (/Another reload/.test(second)) answers['master: reload, while another is loading'] = second;
    await settle(master);
    hp.writeConfig(baseGlobal(dir) + body);
    await master.command('reload');
    await settle(master);
    await ask('master: show proc, after a good reload', 'show proc', master);
    return { haproxyV: execFileSync(binary, ['-v'], { encoding: 'utf8' }).split('\n')[0] ?? '', answers };
  } finally {
    for (const fn of cleanups) await fn();
  }
}

/** Waits until no old worker is left, so the next answer does not depend on timing. */
async function settle(master: MasterClient): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const proc = await master.showProc().catch(() => null);
    if (proc === null) continue;
    // After a failed reload 3.1+ list the serving worker as old, for good.
    if (proc.workers.length === 0 || proc.oldWorkers.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function holdPort(): Promise<{ port: number; server: ReturnType<typeof createServer> }> {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, server };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const binaries = args.length > 0 ? args : TESTED_SERIES.map((s) => join(CACHE, s, 'haproxy')).filter((b) => existsSync(b));
  if (binaries.length === 0) throw new Error(`no HAProxy binaries in ${CACHE}; run test/haproxy-versions/install.sh first`);
  mkdirSync(OUT, { recursive: true });
  for (const binary of binaries) {
    const fixture = await capture(binary);
    const version = parseVersion(fixture.haproxyV);
    if (version === null) throw new Error(`${binary} -v printed no version: ${fixture.haproxyV}`);
    const file = join(OUT, `${series(version)}.json`);
    writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`);
    console.log(`${file}: ${Object.keys(fixture.answers).length} answers from ${version.full}`);
  }
}

await main();
process.exit(0);
