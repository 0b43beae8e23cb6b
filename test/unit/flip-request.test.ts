import t from 'tap';
import { parseFlipRequest } from '../../src/fleet/flip-request.ts';

t.test('defaults: wait for the fleet, 5 s, health gate on', async (t) => {
  t.same(parseFlipRequest('{"to":"green"}'), { to: 'green', expect: null, force: false, wait: true, timeoutMs: 5000, reason: null });
  t.same(parseFlipRequest('{"to":"green","expect":"blue","force":true,"wait":false,"timeoutMs":250}'), { to: 'green', expect: 'blue', force: true, wait: false, timeoutMs: 250, reason: null });
  t.same(parseFlipRequest('{"to":"green","expect":null}'), { to: 'green', expect: null, force: false, wait: true, timeoutMs: 5000, reason: null });
});

t.test('a reason: up to 200 printable characters, trimmed; blank means none', async (t) => {
  const max = 'é'.repeat(200);
  t.match(parseFlipRequest(JSON.stringify({ to: 'green', reason: ' release 4.2 — canary ok ' })), { reason: 'release 4.2 — canary ok' });
  t.match(parseFlipRequest(JSON.stringify({ to: 'green', reason: max })), { reason: max }, '200 characters, not bytes');
  t.match(parseFlipRequest(JSON.stringify({ to: 'green', reason: '  ' })), { reason: null });
  t.match(parseFlipRequest(JSON.stringify({ to: 'green', reason: null })), { reason: null });
});

t.test('anything else is refused with the field and the problem', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /not valid JSON/],
    ['null', /must be a JSON object/],
    ['"green"', /must be a JSON object/],
    ['{"force":true}', /^to: is required/],
    ['{"to":""}', /^to: colour "" must match/],
    ['{"to":"green\\nserver x"}', /^to: colour "green\\nserver x" must match/],
    ['{"to":"green","expect":5}', /^expect: must be a string/],
    ['{"to":"green","wait":"no"}', /^wait: must be true or false/],
    ['{"to":"green","timeoutMs":0}', /^timeoutMs: must be a whole number/],
    ['{"to":"green","timeoutMs":1.5}', /^timeoutMs: must be a whole number/],
    ['{"to":"green","colour":"blue"}', /^colour: unknown field/],
    ['{"to":"green","reason":5}', /^reason: must be a string/],
    [JSON.stringify({ to: 'green', reason: 'x'.repeat(201) }), /^reason: must be at most 200 characters/],
    [JSON.stringify({ to: 'green', reason: 'two\nlines' }), /^reason: must hold printable characters only/],
    [JSON.stringify({ to: 'green', reason: 'bell\u0007' }), /^reason: must hold printable characters only/],
  ];
  for (const [body, problem] of cases) t.match(parseFlipRequest(body), problem, body);
});
