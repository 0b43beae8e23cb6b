import http from 'node:http';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { serverStatsReader } from '../../src/haproxy/server-stats.ts';
import { HaproxyError } from '../../src/haproxy/errors.ts';
import { MasterClient, parseShowProc } from '../../src/haproxy/master.ts';
import { RuntimeClient, splitPromptAnswers } from '../../src/haproxy/runtime.ts';
import { answersReload, parseVersion, refusesOverlappingReload, type HaproxyVersion } from '../../src/haproxy/version.ts';
import { baseGlobal, startHaproxy, type HaproxyProcess } from '../helpers/haproxy.ts';
import { freePort } from '../helpers/ports.ts';
import { tmpDir, type Teardown } from '../helpers/tmp.ts';

interface Ctx extends Teardown {
  passing(): boolean;
  comment(...args: unknown[]): void;
}

interface Reply {
  status: number;
  body: string;
}

/** A stand-in pod: answers every request with its own name. */
async function pod(t: Teardown, name: string): Promise<number> {
  const server = http.createServer((_req, res) => res.end(name));
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return port;
}

/** One request on a fresh connection, so no keep-alive socket outlives a reload. */
function get(port: number, host = 'default.example'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

async function haproxy(t: Ctx, body: (dir: string) => string): Promise<{ hp: HaproxyProcess; dir: string }> {
  const dir = tmpDir(t);
  const hp = await startHaproxy({ dir, config: baseGlobal(dir) + body(dir) });
  t.teardown(async () => {
    if (!t.passing()) t.comment(`haproxy output:\n${hp.output()}`);
    await hp.stop();
  });
  return { hp, dir };
}

function clients(hp: HaproxyProcess): { master: MasterClient; runtime: RuntimeClient } {
  return {
    master: new MasterClient({ socket: hp.masterSocket }),
    runtime: new RuntimeClient({ socket: hp.adminSocket }),
  };
}

async function versionOf(master: MasterClient): Promise<HaproxyVersion> {
  const version = parseVersion(await master.command('show version'));
  if (version === null) throw new Error('show version gave no version');
  return version;
}

function frontend(port: number, rest: string): string {
  return `frontend fe\n  bind 127.0.0.1:${port}\n${rest}\n`;
}

t.test('show proc is parsed from a live master', async (t) => {
  const { hp } = await haproxy(t, () => '');
  const proc = await clients(hp).master.showProc();
  t.equal(proc.master.pid, hp.child.pid, 'without -D the child is the master');
  t.equal(proc.master.reloads, 0);
  t.equal(proc.master.failed, 0);
  t.equal(proc.workers.length, 1);
  t.equal(proc.workers[0]?.type, 'worker');
  t.equal(proc.workers[0]?.reloads, 0);
  t.equal(proc.workers[0]?.version, (await versionOf(clients(hp).master)).full);
  t.equal(clients(hp).master.version(), null, 'a fresh client knows no version before its first show proc');
  const master = clients(hp).master;
  await master.showProc();
  t.equal(master.version()?.full, proc.master.version.trim());
  t.ok(Number.isInteger(proc.workers[0]?.uptimeSec));
  t.same(proc.oldWorkers, []);
});

t.test('show proc parsing covers old workers and programs', async (t) => {
  const text = [
    '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
    '2974            master          3 [failed: 1]   0d00h00m59s     2.6.12-1+deb12u4',
    '# workers',
    '3698            worker          0               0d00h00m00s     2.6.12-1+deb12u4',
    '# old workers',
    '3469            worker          2               1d02h03m04s     2.6.12-1+deb12u4',
    '# programs',
    '4363            sleeper         0               0d00h00m00s     -              ',
  ].join('\n');
  const proc = parseShowProc(text);
  t.same(proc?.master, { pid: 2974, type: 'master', reloads: 3, failed: 1, uptime: '0d00h00m59s', uptimeSec: 59, version: '2.6.12-1+deb12u4' });
  t.same(proc?.workers.map((w) => [w.pid, w.reloads]), [[3698, 0]]);
  t.same(proc?.oldWorkers.map((w) => [w.pid, w.reloads, w.uptimeSec]), [[3469, 2, 93784]]);
  t.same(proc?.programs.map((p) => [p.pid, p.type, p.version]), [[4363, 'sleeper', '-']]);
  t.equal(parseShowProc('Unknown command.'), null);
});

t.test('prompt-mode answers split one per command', async (t) => {
  const text = '\n> \n> entry not found.\n\n> 1\n# be_id be_name\n3 be_a\n\n> ';
  t.same(splitPromptAnswers(text, 4), ['', '', 'entry not found.', '1\n# be_id be_name\n3 be_a']);
  t.same(splitPromptAnswers('\n> partial', 3), [''], 'a cut-off answer is not returned');
});

t.test('reload is confirmed by the reload counter', async (t) => {
  const port = await freePort();
  const app = await pod(t, 'app');
  const { hp } = await haproxy(t, () => frontend(port, `  default_backend be\nbackend be\n  server s1 127.0.0.1:${app}\n`));
  const { master } = clients(hp);
  const before = await master.showProc();
  const result = await master.reload();
  t.equal(result.ok, true, result.reason);
  t.equal(result.reloadsAfter, result.reloadsBefore + 1);
  t.equal(result.failedAfter, 0);
  t.equal(result.newWorkerPids.length, 1);
  t.not(result.newWorkerPids[0], before.workers[0]?.pid);
  const after = await master.showProc();
  t.ok(after.workers.some((w) => w.pid === result.newWorkerPids[0]));
  t.equal((await get(port)).body, 'app');
});

t.test('a config that fails to load: ok false, and the old worker keeps serving', async (t) => {
  const port = await freePort();
  const app = await pod(t, 'old-config');
  const body = frontend(port, `  default_backend be\nbackend be\n  server s1 127.0.0.1:${app}\n`);
  const { hp, dir } = await haproxy(t, () => body);
  const { master } = clients(hp);
  t.equal((await get(port)).body, 'old-config');

  hp.writeConfig(`${baseGlobal(dir)}${body}  this_is_not_a_keyword\n`);
  const failed = await master.reload();
  t.equal(failed.ok, false);
  t.equal(failed.reloadsAfter, failed.reloadsBefore + 1);
  t.equal(failed.failedAfter, failed.failedBefore + 1);
  t.match(failed.reason, /could not load/);
  const version = await versionOf(master);
  if (answersReload(version)) t.match(failed.reason, /unknown keyword 'this_is_not_a_keyword'/, "HAProxy's own error line");
  else t.match(failed.reason, /journalctl/, '2.6 tells nothing but its log');
  const proc = await master.showProc();
  // From 3.1 the worker still serving after a failed reload is listed as old.
  const serving = refusesOverlappingReload(version) ? [...proc.workers, ...proc.oldWorkers] : proc.workers;
  t.equal(serving.length, 1);
  t.equal(serving[0]?.reloads, 1, 'the surviving worker is of the previous generation');
  t.same(await get(port), { status: 200, body: 'old-config' });

  hp.writeConfig(baseGlobal(dir) + body);
  const repaired = await master.reload();
  t.equal(repaired.ok, true, repaired.reason);
  t.equal(repaired.failedAfter, 0, 'HAProxy resets [failed: N] after a successful reload');
  t.same(await get(port), { status: 200, body: 'old-config' });
});

t.test('set map switches which backend answers', async (t) => {
  const port = await freePort();
  const blue = await pod(t, 'blue');
  const green = await pod(t, 'green');
  const { hp, dir } = await haproxy(t, (d) => {
    writeFileSync(join(d, 'hosts.map'), 'shop.example be_blue\n');
    return (
      frontend(port, `  use_backend %[req.hdr(host),lower,map(${join(d, 'hosts.map')})]`) +
      `backend be_blue\n  server s1 127.0.0.1:${blue}\nbackend be_green\n  server s1 127.0.0.1:${green}\n`
    );
  });
  const map = join(dir, 'hosts.map');
  const { runtime } = clients(hp);
  t.equal((await get(port, 'shop.example')).body, 'blue');

  await runtime.setMap(map, 'shop.example', 'be_green');
  t.equal((await get(port, 'SHOP.example')).body, 'green');
  t.same([...(await runtime.showMap(map))], [['shop.example', 'be_green']]);

  await runtime.addMap(map, 'new.example', 'be_blue');
  t.equal((await get(port, 'new.example')).body, 'blue');
  await runtime.delMap(map, 'new.example');
  t.equal((await get(port, 'new.example')).status, 503, 'no backend once the entry is gone');

  await runtime.addMap(map, 'shop.example', 'be_blue');
  t.equal((await get(port, 'shop.example')).body, 'green', 'add map on an existing key leaves the older entry in charge');
  t.equal((await runtime.showMap(map)).get('shop.example'), 'be_green', 'showMap reports the entry lookups use');
});

t.test('disabled server-template slots filled at runtime take traffic', async (t) => {
  const port = await freePort();
  const podPort = await pod(t, 'pod-1');
  const { hp } = await haproxy(t, () =>
    frontend(port, '  default_backend be_pods') + 'backend be_pods\n  server-template srv 3 127.0.0.1:1 disabled\n',
  );
  const { runtime } = clients(hp);
  t.equal((await get(port)).status, 503);
  const initial = await runtime.showServersState('be_pods');
  t.same(initial.map((s) => [s.name, s.adminState, s.configDisabled]), [
    ['srv1', 'maint', true],
    ['srv2', 'maint', true],
    ['srv3', 'maint', true],
  ]);

  await runtime.setServerAddr('be_pods', 'srv1', '127.0.0.1', podPort);
  await runtime.setServerAddr('be_pods', 'srv1', '127.0.0.1', podPort);
  await runtime.setServerState('be_pods', 'srv1', 'ready');
  await runtime.setServerWeight('be_pods', 'srv1', 50);
  t.same(await get(port), { status: 200, body: 'pod-1' });

  const [srv1, srv2] = await runtime.showServersState('be_pods');
  t.match(srv1, { backend: 'be_pods', name: 'srv1', addr: '127.0.0.1', port: podPort, opState: 'running', adminState: 'ready', userWeight: 50 });
  t.equal(srv1?.configDisabled, true, 'the config flag survives "state ready"');
  t.match(srv2, { name: 'srv2', opState: 'stopped', adminState: 'maint' });

  const stat = await runtime.showStat();
  const row = (sv: string) => stat.find((r) => r.pxname === 'be_pods' && r.svname === sv);
  t.match(row('srv1'), { type: 'server', status: 'no check', addr: `127.0.0.1:${podPort}`, weight: 50 });
  t.match(row('srv2'), { status: 'MAINT' });
  t.match(row('BACKEND'), { type: 'backend', status: 'UP' });
  const read = await serverStatsReader({ socket: runtime.socket, timeoutMs: 2000 })();
  t.equal(read.error, null, 'the streamed reader reads the same HAProxy');
  t.same([...read.stats].filter(([key]) => key.startsWith('be_pods/')), [
    ['be_pods/srv1', { status: 'no check', check: '' }],
    ['be_pods/srv2', { status: 'MAINT', check: '' }],
    ['be_pods/srv3', { status: 'MAINT', check: '' }],
  ], 'server rows only, as show stat has them');

  await runtime.setServerState('be_pods', 'srv1', 'drain');
  t.equal((await runtime.showServersState('be_pods'))[0]?.adminState, 'drain');
  await runtime.setServerState('be_pods', 'srv1', 'maint');
  t.equal((await get(port)).status, 503);
});

t.test('rejected commands raise HaproxyError with HAProxy\'s answer', async (t) => {
  const port = await freePort();
  const { hp, dir } = await haproxy(t, (d) => {
    writeFileSync(join(d, 'hosts.map'), '');
    return frontend(port, `  use_backend %[req.hdr(host),map(${join(d, 'hosts.map')})]`) + 'backend be\n  server s1 127.0.0.1:1\n';
  });
  const map = join(dir, 'hosts.map');
  const { runtime } = clients(hp);
  const failed = (answer: string | RegExp) => ({ name: 'HaproxyError', code: 'HAPROXY_COMMAND_FAILED', socket: hp.adminSocket, answer });
  await t.rejects(runtime.setServerState('nope', 's1', 'ready'), failed('No such backend.'));
  await t.rejects(runtime.setServerState('be', 'nope', 'ready'), failed('No such server.'));
  await runtime.setServerAddr('be', 's1', '127.0.0.2', 80);
  await runtime.setServerWeight('be', 's1', 256);
  await t.rejects(runtime.showServersState('nope'), failed("Can't find backend."));
  await t.rejects(runtime.setMap(join(dir, 'other.map'), 'a', 'b'), failed('Unknown map identifier. Please use #<id> or <file>.'));
  await t.rejects(runtime.showMap(join(dir, 'other.map')), failed('Unknown map identifier. Please use #<id> or <file>.'));
  await t.rejects(runtime.setMap(map, 'absent.example', 'be'), failed('entry not found.'));
  await t.rejects(runtime.delMap(map, 'absent.example'), failed('Key not found.'));
  const err = await runtime.setServerState('nope', 's1', 'ready').catch((e: unknown) => e);
  t.ok(err instanceof HaproxyError);
  t.match((err as Error).message, /set server nope\/s1 state ready.*No such backend/);

  t.match(await runtime.command('no such command'), /^Unknown command/, 'command() returns the answer as is');
  const invalid = { code: 'HAPROXY_INVALID_ARGUMENT' };
  await t.rejects(runtime.setServerAddr('be', 's1', '127.0.0.1', 70000), invalid, 'HAProxy would truncate 70000 to 4464');
  await t.rejects(runtime.setServerAddr('be', 's1', 'localhost', 80), invalid);
  await t.rejects(runtime.setMap(map, '#1', 'be'), invalid);
  await t.rejects(runtime.setMap(map, 'a b', 'be'), invalid);
  await t.rejects(runtime.command('show info; show stat'), invalid);
  await t.rejects(runtime.batch(['show info', 'x\nshow stat']), invalid);
});

t.test('a batch travels on one connection and answers in order', async (t) => {
  const port = await freePort();
  const { hp, dir } = await haproxy(t, (d) => {
    writeFileSync(join(d, 'hosts.map'), '');
    return frontend(port, `  use_backend %[req.hdr(host),map(${join(d, 'hosts.map')})]`);
  });
  const map = join(dir, 'hosts.map');
  const { runtime } = clients(hp);
  const n = 200;
  const adds = Array.from({ length: n }, (_, i) => `add map ${map} h${i}.example be_${i}`);
  const gets = Array.from({ length: n }, (_, i) => `get map ${map} h${i}.example`);
  const before = Number((await runtime.showInfo()).CumConns);
  const answers = await runtime.batch([...adds, ...gets, 'show servers state', `show map ${map}`]);
  const after = Number((await runtime.showInfo()).CumConns);
  t.equal(after - before, 2, 'the batch and the second show info: one connection each');
  t.equal(answers.length, 2 * n + 2);
  t.same(answers.slice(0, n), Array(n).fill(''));
  answers.slice(n, 2 * n).forEach((answer, i) => {
    if (!answer.includes(`key="h${i}.example", value="be_${i}"`)) t.fail(`answer ${n + i} is not for h${i}: ${answer}`);
  });
  t.match(answers[2 * n], /^1\n# be_id /);
  t.equal(answers[2 * n + 1]?.split('\n').length, n);
  t.same(await runtime.batch([]), []);
});

t.test('concurrent commands are pipelined without interleaving', async (t) => {
  const port = await freePort();
  const { hp, dir } = await haproxy(t, (d) => {
    writeFileSync(join(d, 'hosts.map'), Array.from({ length: 50 }, (_, i) => `c${i}.example be_${i}\n`).join(''));
    const backends = Array.from({ length: 10 }, (_, i) => `backend be_${i}\n  server s${i} 127.0.0.${i + 1}:${8000 + i}\n`);
    return frontend(port, `  use_backend %[req.hdr(host),map(${join(d, 'hosts.map')})]`) + backends.join('');
  });
  const map = join(dir, 'hosts.map');
  const { runtime } = clients(hp);
  const before = Number((await runtime.showInfo()).CumConns);
  const gets = Array.from({ length: 50 }, (_, i) => runtime.command(`get map ${map} c${i}.example`));
  const states = Array.from({ length: 10 }, (_, i) => runtime.showServersState(`be_${i}`));
  const maps = Array.from({ length: 5 }, () => runtime.showMap(map));
  const batches = Array.from({ length: 5 }, (_, b) => runtime.batch([`get map ${map} c${b}.example`, 'show info', `get map ${map} c${b + 10}.example`]));
  const late = new Promise<string>((resolve, reject) => setTimeout(() => runtime.command(`get map ${map} c49.example`).then(resolve, reject), 1));

  (await Promise.all(gets)).forEach((answer, i) => {
    if (!answer.includes(`key="c${i}.example", value="be_${i}"`)) t.fail(`get ${i} got: ${answer}`);
  });
  (await Promise.all(states)).forEach((servers, i) => t.same(servers.map((s) => [s.backend, s.name, s.addr, s.port]), [[`be_${i}`, `s${i}`, `127.0.0.${i + 1}`, 8000 + i]]));
  for (const entries of await Promise.all(maps)) t.equal(entries.size, 50);
  (await Promise.all(batches)).forEach(([first, info, third], b) => {
    t.match(first, `key="c${b}.example"`);
    t.match(info, /^Name: HAProxy\n/);
    t.match(third, `key="c${b + 10}.example"`);
  });
  t.match(await late, 'key="c49.example"');
  const used = Number((await runtime.showInfo()).CumConns) - before;
  t.ok(used <= 4, `concurrent commands shared connections (${used} including the show info calls)`);
});

t.test('commands issued while HAProxy reloads succeed thanks to retries', async (t) => {
  const port = await freePort();
  const app = await pod(t, 'app');
  const { hp } = await haproxy(t, () => frontend(port, `  default_backend be\nbackend be\n  server s1 127.0.0.1:${app}\n`));
  let retries = 0;
  const master = new MasterClient({ socket: hp.masterSocket, onRetry: () => retries++ });
  const runtime = new RuntimeClient({ socket: hp.adminSocket, onRetry: () => retries++ });
  const synchronous = answersReload(await versionOf(master));
  for (let i = 1; i <= 5; i++) {
    const answer = await master.command('reload');
    if (synchronous) t.match(answer, /^Success=1\n--\n/, 'from 2.7 reload answers once loaded');
    else t.equal(answer, '', 'reload answers nothing on 2.6');
    const [proc, info] = await Promise.all([master.showProc(), runtime.showInfo()]);
    t.ok(proc.master.reloads >= i - 1);
    t.equal(info.Name, 'HAProxy');
  }
  const settled = await master.reload();
  t.equal(settled.ok, true, settled.reason);
  t.equal((await master.showProc()).master.reloads, 6);
  t.comment(`connection retries during reloads: ${retries}`);
  t.equal((await get(port)).body, 'app');
});

t.test('an absent socket fails with HAPROXY_SOCKET_UNREACHABLE after the deadline', async (t) => {
  const dir = tmpDir(t);
  const missing = join(dir, 'missing.sock');
  const unreachable = (socket: string) => ({ code: 'HAPROXY_SOCKET_UNREACHABLE', socket, message: new RegExp(socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
  await t.rejects(new RuntimeClient({ socket: missing, timeoutMs: 200 }).showInfo(), unreachable(missing));
  await t.rejects(new MasterClient({ socket: missing, timeoutMs: 200 }).showProc(), unreachable(missing));
  await t.rejects(new MasterClient({ socket: missing, timeoutMs: 200 }).reload(), unreachable(missing));
  const closed = `127.0.0.1:${await freePort()}`;
  await t.rejects(new RuntimeClient({ socket: closed, timeoutMs: 200 }).command('show info'), unreachable(closed));
});

t.test('the runtime client refuses to talk to the master socket', async (t) => {
  const { hp } = await haproxy(t, () => '');
  await t.rejects(new RuntimeClient({ socket: hp.masterSocket }).showInfo(), { code: 'HAPROXY_COMMAND_FAILED', message: /master CLI/ });
});
