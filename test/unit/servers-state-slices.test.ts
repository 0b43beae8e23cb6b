// `show servers state` parsed a slice at a time gives what the whole-answer parser gives.
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { parseServersState, parseServersStateInSlices } from '../../src/haproxy/runtime.ts';
import type { AnswerFixture } from '../haproxy-versions/capture-answers.ts';

const DIR = new URL('../fixtures/haproxy-answers/', import.meta.url);

t.test('recorded answers', async (t) => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.json'))) {
    const answer = (JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as AnswerFixture).answers['admin: show servers state'] ?? '';
    const whole = parseServersState(answer);
    t.ok(whole && whole.length > 0, `${file} has servers`);
    t.same(await parseServersStateInSlices(answer), whole, file);
  }
});

t.test('more rows than a slice, and a row not understood after them', async (t) => {
  const header = '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n';
  const rows = Array.from({ length: 12_345 }, (_, i) => `3 be ${i + 1} s${i + 1} 10.0.0.1 2 0 80\n`).join('');
  const servers = await parseServersStateInSlices(header + rows);
  t.equal(servers?.length, 12_345);
  t.match(servers?.[12_344], { backend: 'be', name: 's12345', addr: '10.0.0.1', port: 80, opState: 'running', adminState: 'ready' });
  t.equal(await parseServersStateInSlices(`${header}${rows}3 be x\n`), null);
  t.equal(await parseServersStateInSlices('Unknown command\n'), null);
});
