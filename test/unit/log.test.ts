import { openSync, closeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createLogger, withPriorityPrefix, writesToJournal } from '../../src/log.ts';
import { tmpDir } from '../helpers/tmp.ts';

t.test('each line carries the syslog priority of its level, and the rest of the line is the bare JSON object', async (t) => {
  const lines: string[] = [];
  const log = createLogger('debug', withPriorityPrefix({ write: (line: string) => void lines.push(line) }));
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error({ code: 'X' }, 'e');
  log.fatal('f');
  t.same(lines.map((l) => l.slice(0, 3)), ['<7>', '<6>', '<4>', '<3>', '<2>']);
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line.slice(3)), 'JSON after the prefix');
  t.equal((JSON.parse(lines[3]!.slice(3)) as { code: string }).code, 'X');
});

t.test('the journal is recognised only when JOURNAL_STREAM names the very file the descriptor is', async (t) => {
  const file = join(tmpDir(t), 'stream');
  const fd = openSync(file, 'w');
  t.teardown(() => closeSync(fd));
  const st = fstatSync(fd);
  t.ok(writesToJournal(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino}` }), 'same device and inode');
  t.notOk(writesToJournal(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }), 'another inode: stdout was redirected elsewhere');
  t.notOk(writesToJournal(fd, {}), 'not under systemd');
  t.notOk(writesToJournal(fd, { JOURNAL_STREAM: 'garbage' }), 'malformed');
});
