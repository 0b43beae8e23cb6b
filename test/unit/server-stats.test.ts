// `show stat` parsed as it arrives: the same server entries as the whole-answer
// parser, whatever the chunking; unchanged entries kept; other answers refused with their text.
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { isHaproxyError } from '../../src/haproxy/errors.ts';
import { parseStat } from '../../src/haproxy/runtime.ts';
import { StatParser } from '../../src/haproxy/server-stats.ts';
import type { ServerStats } from '../../src/core/health.ts';
import type { AnswerFixture } from '../haproxy-versions/capture-answers.ts';

const DIR = new URL('../fixtures/haproxy-answers/', import.meta.url);

function parseInChunks(answer: string, size: number, previous?: ServerStats): { stats: ServerStats; changed: boolean } {
  const parser = new StatParser(previous);
  const bytes = Buffer.from(answer);
  for (let i = 0; i < bytes.length; i += size) parser.feed(bytes.subarray(i, i + size));
  return parser.end('/run/admin.sock');
}

for (const file of readdirSync(DIR).filter((f) => f.endsWith('.json'))) {
  const fixture = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as AnswerFixture;
  const answer = fixture.answers['admin: show stat'] ?? '';
  t.test(`HAProxy ${file}: the server rows of show stat`, async (t) => {
    const expected = (parseStat(answer) ?? []).filter((r) => r.type === 'server').map((r) => [`${r.pxname}/${r.svname}`, { status: r.status, check: r.checkStatus }]);
    t.ok(expected.length > 0, 'the fixture has servers');
    for (const size of [1, 7, 100, 1 << 20]) t.same([...parseInChunks(answer, size).stats], expected, `in chunks of ${size} bytes`);
  });
}

const HEADER = '# pxname,svname,qcur,status,type,check_status,weight\n';

t.test('quoted fields, rows of other types, a last line without newline', async (t) => {
  const { stats } = parseInChunks(`${HEADER}fe,FRONTEND,,OPEN,0,,\nbe,"s,1",0,"UP 1/2",2,L7OK,1\nbe,BACKEND,,UP,1,,\nbe,s2,0,DOWN,2,* L4CON,1`, 5);
  t.same([...stats], [
    ['be/s,1', { status: 'UP 1/2', check: 'L7OK' }],
    ['be/s2', { status: 'DOWN', check: '* L4CON' }],
  ]);
});

t.test('an unchanged read keeps the entries and says so; a change is told', async (t) => {
  const first = parseInChunks(`${HEADER}be,s1,0,UP,2,L7OK,1\nbe,s2,0,DOWN,2,L4CON,1\n`, 9);
  t.equal(first.changed, true, 'the first read is a change');
  const second = parseInChunks(`${HEADER}be,s1,0,UP,2,L7OK,1\nbe,s2,0,DOWN,2,L4CON,1\n`, 9, first.stats);
  t.equal(second.changed, false);
  t.equal(second.stats.get('be/s1'), first.stats.get('be/s1'), 'the same entry object');
  t.equal(parseInChunks(`${HEADER}be,s1,0,UP,2,L7OK,1\nbe,s2,0,UP,2,L4OK,1\n`, 9, second.stats).changed, true, 'a status changed');
  t.equal(parseInChunks(`${HEADER}be,s1,0,UP,2,L7OK,1\n`, 9, second.stats).changed, true, 'a server left');
  t.equal(parseInChunks(`${HEADER}be,s1,0,UP,2,L7OK,1\nbe,s2,0,DOWN,2,L4CON,1\nbe,s3,0,UP,2,L7OK,1\n`, 9, second.stats).changed, true, 'a server came');
});

t.test('an answer that is not stats is a failure carrying its text', async (t) => {
  for (const answer of ['Unknown command: \'show stat\', but maybe one of the following:\n  help\n', '', 'pxname,svname\nbe,s1\n']) {
    try {
      parseInChunks(answer, 4);
      t.fail(`accepted ${JSON.stringify(answer)}`);
    } catch (err) {
      t.ok(isHaproxyError(err, 'HAPROXY_COMMAND_FAILED'), 'HAPROXY_COMMAND_FAILED');
      t.match((err as Error).message, answer === '' ? /\(empty answer\)/ : answer.split('\n')[0] ?? '', 'with the answer');
    }
  }
});
