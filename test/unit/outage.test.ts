import t from 'tap';
import { formatDuration, Outage } from '../../src/core/outage.ts';

t.test('an outage runs from the first failure to the first success, counting the failures in between', async (t) => {
  const o = new Outage();
  t.equal(o.recovered(5), null, 'a success with nothing failing is no recovery');
  o.failed(1000, 'first');
  o.failed(4000, 'second');
  t.same(o.recovered(13500), { since: 1000, durationMs: 12500, failures: 2, lastError: 'second' });
  t.equal(o.recovered(14000), null, 'only once');
  o.failed(20000, 'again');
  t.same(o.recovered(20100), { since: 20000, durationMs: 100, failures: 1, lastError: 'again' }, 'a new outage starts afresh');
});

t.test('durations read as a person would write them', async (t) => {
  t.equal(formatDuration(850), '850 ms');
  t.equal(formatDuration(12345), '12.3 s');
  t.equal(formatDuration(245000), '4 min 5 s');
});
