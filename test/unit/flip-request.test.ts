import t from 'tap';
import { parseFlipRequest } from '../../src/fleet/flip-request.ts';

t.test('defaults: wait for the fleet, 5 s, health gate on', async (t) => {
  t.same(parseFlipRequest('{"to":"green"}'), { to: 'green', expect: null, force: false, wait: true, timeoutMs: 5000 });
  t.same(parseFlipRequest('{"to":"green","expect":"blue","force":true,"wait":false,"timeoutMs":250}'), { to: 'green', expect: 'blue', force: true, wait: false, timeoutMs: 250 });
  t.same(parseFlipRequest('{"to":"green","expect":null}'), { to: 'green', expect: null, force: false, wait: true, timeoutMs: 5000 });
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
  ];
  for (const [body, problem] of cases) t.match(parseFlipRequest(body), problem, body);
});
