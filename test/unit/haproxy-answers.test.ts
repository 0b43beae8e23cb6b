/**
 * The parsers against what each HAProxy version really answered, recorded
 * by test/haproxy-versions/capture-answers.ts from Debian's binaries.
 */
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { parseReloadAnswer, parseShowProc } from '../../src/haproxy/master.ts';
import { parseInfo, parseMap, parseServersState, parseSetAddrAnswer, parseStat } from '../../src/haproxy/runtime.ts';
import { answersReload, parseVersion, refusesOverlappingReload, series, TESTED_SERIES, type HaproxyVersion } from '../../src/haproxy/version.ts';
import type { AnswerFixture } from '../haproxy-versions/capture-answers.ts';

const DIR = new URL('../fixtures/haproxy-answers/', import.meta.url);
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

t.test('there is a fixture for every tested series', async (t) => {
  t.same(files, TESTED_SERIES.map((s) => `${s}.json`));
});

for (const file of files) {
  const fixture = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as AnswerFixture;
  const answer = (key: string): string => {
    const text = fixture.answers[key];
    if (text === undefined) throw new Error(`${file} has no answer for "${key}"`);
    return text;
  };
  const version = parseVersion(fixture.haproxyV) as HaproxyVersion;

  t.test(`HAProxy ${version?.full ?? file}`, async (t) => {
    t.equal(series(version), file.replace(/\.json$/, ''), 'haproxy -v names the series of the file');
    t.same(parseVersion(answer('master: show version')), version, 'master show version');
    t.same(parseVersion(answer('admin: show version')), version, 'admin show version');

    t.test('show proc', async (t) => {
      const proc = parseShowProc(answer('master: show proc'));
      t.match(proc, { master: { reloads: 0, failed: 0 } });
      t.same(parseVersion(proc?.master.version ?? ''), version, 'the version column');
      t.equal(proc?.workers.length, 1);
      const failed = parseShowProc(answer('master: show proc, after a failed reload'));
      t.equal(failed?.master.failed, 1);
      // The worker that kept serving: listed as current up to 3.0, as old from 3.1.
      const serving = refusesOverlappingReload(version) ? failed?.oldWorkers : failed?.workers;
      t.equal(serving?.length, 1);
      t.equal(serving?.[0]?.reloads, 1);
      if (refusesOverlappingReload(version)) t.same(failed?.workers, []);
      const good = parseShowProc(answer('master: show proc, after a good reload'));
      t.equal(good?.master.failed, 0, 'a good reload resets the failed counter');
      t.match(good?.workers, [{ reloads: 0 }]);
    });

    t.test('reload', async (t) => {
      if (!answersReload(version)) {
        t.equal(answer('master: reload'), '', '2.6 answers nothing');
        t.equal(answer('master: reload, a bind on a port in use'), '', 'not even to a failure');
        t.same(parseReloadAnswer(''), { kind: 'empty' });
        return;
      }
      t.same(parseReloadAnswer(answer('master: reload')), { kind: 'success' });
      const busyPort = parseReloadAnswer(answer('master: reload, a bind on a port in use'));
      t.match(busyPort, { kind: 'failure', errors: [/^Binding \[.*haproxy\.cfg:\d+\] for frontend fe_busy: .*cannot bind socket \(Address already in use\)/, /Some protocols failed/] });
      const keyword = parseReloadAnswer(answer('master: reload, an unknown keyword'));
      t.match(keyword, { kind: 'failure', errors: [/unknown keyword 'not_a_keyword'/, /Error\(s\) found/, /Fatal errors/] });
      t.notMatch(JSON.stringify(keyword), /NOTICE|path to executable/, 'only the error lines');
      if (refusesOverlappingReload(version)) t.same(parseReloadAnswer(answer('master: reload, while another is loading')), { kind: 'busy' });
    });

    t.test('set server addr', async (t) => {
      t.equal(parseSetAddrAnswer(answer('admin: set server addr, address and port change')), 'changed');
      t.equal(parseSetAddrAnswer(answer('admin: set server addr, only the port changes')), 'changed');
      t.equal(parseSetAddrAnswer(answer('admin: set server addr, only the address changes')), 'changed');
      t.equal(parseSetAddrAnswer(answer('admin: set server addr, IPv6')), 'changed');
      t.equal(parseSetAddrAnswer(answer('admin: set server addr, nothing changes')), 'unchanged');
      t.equal(parseSetAddrAnswer(answer('admin: set server addr, no port given')), 'unchanged');
      t.equal(parseSetAddrAnswer(answer('admin: set server addr, unknown server')), null, 'a refusal');
    });

    t.test('commands that answer nothing on success, and their refusals', async (t) => {
      t.equal(answer('admin: set server state ready'), '');
      t.equal(answer('admin: set map'), '');
      t.not(answer('admin: set server state, unknown backend'), '');
      t.not(answer('admin: set map, unknown key'), '');
    });

    t.test('show map, show servers state, show stat, show info', async (t) => {
      t.same([...(parseMap(answer('admin: show map')) ?? [])], [['shop.example', 'be_other']]);
      t.equal(parseMap(answer('admin: show map, unknown map')), null);
      const servers = parseServersState(answer('admin: show servers state'));
      t.match(servers, [
        { backend: 'be_pods', name: 'srv1', addr: '::1', port: 8081, adminState: 'ready', configDisabled: true },
        { backend: 'be_pods', name: 'srv2', addr: '127.0.0.1', port: 1, adminState: 'maint', opState: 'stopped' },
      ]);
      const stat = parseStat(answer('admin: show stat')) ?? [];
      t.match(stat.find((r) => r.svname === 'srv1'), { pxname: 'be_pods', type: 'server', status: 'no check', addr: '[::1]:8081' });
      t.match(stat.find((r) => r.svname === 'srv2'), { status: 'MAINT' });
      t.match(stat.find((r) => r.svname === 'BACKEND'), { type: 'backend', status: 'UP' });
      t.match(parseInfo(answer('admin: show info')), { Name: 'HAProxy', Version: version.full });
    });
  });
}

t.test('answers no version gave are not taken for success', async (t) => {
  for (const text of ['Success=2\n--\n', 'Success=1 maybe', 'Reloaded.', 'Unknown command.']) t.same(parseReloadAnswer(text), { kind: 'unknown' }, text);
  t.same(parseReloadAnswer('Success=0\n--\n[WARNING]  (1) : Loading failure!'), { kind: 'failure', errors: ['Loading failure!'] }, 'warnings when there is no alert');
  const many = ['Success=0', '--', ...Array.from({ length: 6 }, (_, i) => `[ALERT]    (1) : problem ${i} ${'x'.repeat(400)}`)].join('\n');
  const failure = parseReloadAnswer(many);
  t.equal(failure.kind === 'failure' && failure.errors.length, 4, 'three lines and a count of the rest');
  t.ok(failure.kind === 'failure' && failure.errors.every((e) => e.length <= 303), 'each line trimmed');
  for (const text of [
    'IP changed',
    "IP changed from 'a' to 'b'",
    "port changed from '1' to '2', IP changed from 'a' to 'b' by 'stats socket command'",
    "IP changed from 'a' to 'b', but the port is invalid by 'stats socket command'",
    "no need to change the addr, no need to change the addr by 'stats socket command'",
    " by 'stats socket command'",
    'Nothing changed',
    '',
  ]) {
    t.equal(parseSetAddrAnswer(text), null, JSON.stringify(text));
  }
});
