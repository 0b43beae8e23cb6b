// Last good per vhost: a bad current value keeps the last good version serving; deletion removes; stored values are re-validated.
import t from 'tap';
import { buildDesired } from '../../src/core/desired.ts';
import type { EtcdSnapshot, LastGoodRecords, ServicesSnapshot } from '../../src/core/model.ts';
import { formatLastGood, parseLastGood } from '../../src/core/state-file.ts';

const PREFIX = '/haproxy-sync/';
const HOST = 'shop.example.com';
const SPEC = JSON.stringify({ backends: { blue: { service: 'shop/blue', port: 'http' }, green: { service: 'shop/green', port: 'http' } }, default: 'blue' });
const SERVICES: ServicesSnapshot = {
  services: { 'shop/blue': { ports: { http: [{ address: '10.0.0.1', port: 80 }] } }, 'shop/green': { ports: { http: [{ address: '10.0.0.2', port: 80 }] } } },
  problems: [],
};

function etcd(keys: Record<string, string>): EtcdSnapshot {
  const entries: EtcdSnapshot['entries'] = Object.fromEntries(Object.entries(keys).map(([k, v], i) => [`vhosts/${HOST}/${k}`, { value: v, modRevision: 10 + i }]));
  return { prefix: PREFIX, revision: 20, entries };
}

const GOOD: LastGoodRecords = { [HOST]: { spec: SPEC, active: 'green', revision: 11, since: null } };

t.test('valid current values serve and become the last good version', async (t) => {
  const d = buildDesired(etcd({ spec: SPEC, active: 'green' }), [SERVICES], {}, 1000);
  t.equal(d.vhosts[0]?.active, 'green');
  t.equal(d.vhosts[0]?.lastGood, undefined);
  t.strictSame(d.lastGood, GOOD);
});

t.test('an active value that is no colour of the vhost keeps the last good colour serving, marked since now', async (t) => {
  const d = buildDesired(etcd({ spec: SPEC, active: 'gren' }), [SERVICES], GOOD, 5000);
  t.equal(d.vhosts.length, 1);
  t.equal(d.vhosts[0]?.active, 'green', 'the last good colour');
  t.match(d.vhosts[0]?.lastGood, { since: 5000, problem: { code: 'ACTIVE_INVALID', host: HOST, source: `etcd key ${PREFIX}vhosts/${HOST}/active` } });
  t.match(d.problems, [{ code: 'ACTIVE_INVALID', message: /"gren" is not a colour/ }], 'the problem is still reported');
  t.strictSame(d.lastGood, { [HOST]: { ...GOOD[HOST], since: 5000 } }, 'the start of the fall back is remembered');
  const later = buildDesired(etcd({ spec: SPEC, active: 'not a colour!' }), [SERVICES], d.lastGood, 9000);
  t.equal(later.vhosts[0]?.lastGood?.since, 5000, 'a later sync keeps the first time');
});

t.test('a spec that is not JSON keeps the last good version, endpoints from now', async (t) => {
  const moved: ServicesSnapshot = { services: { ...SERVICES.services, 'shop/green': { ports: { http: [{ address: '10.0.0.9', port: 80 }] } } }, problems: [] };
  const d = buildDesired(etcd({ spec: '{"backends": ', active: 'green' }), [moved], GOOD, 7);
  t.equal(d.vhosts[0]?.active, 'green');
  t.strictSame(d.vhosts[0]?.backends.find((b) => b.colour === 'green')?.servers, [{ address: '10.0.0.9', port: 80 }], 'the current endpoints');
  t.equal(d.vhosts[0]?.lastGood?.problem.code, 'SPEC_INVALID');
});

t.test('a good value again replaces the last good version and clears the mark', async (t) => {
  const d = buildDesired(etcd({ spec: SPEC, active: 'blue' }), [SERVICES], { [HOST]: { ...GOOD[HOST]!, since: 5000 } }, 9000);
  t.equal(d.vhosts[0]?.active, 'blue');
  t.equal(d.vhosts[0]?.lastGood, undefined);
  t.equal(d.lastGood?.[HOST]?.since, null);
  t.equal(d.lastGood?.[HOST]?.active, 'blue');
});

t.test('without a last good version a bad vhost is left out, as before', async (t) => {
  const d = buildDesired(etcd({ spec: SPEC, active: 'gren' }), [SERVICES], {}, 1);
  t.strictSame(d.vhosts, []);
  t.strictSame(d.lastGood, {});
});

t.test('deleted keys remove the vhost and forget it; an active key alone is a deletion too', async (t) => {
  const gone = buildDesired({ prefix: PREFIX, revision: 30, entries: {} }, [SERVICES], GOOD, 1);
  t.strictSame(gone.vhosts, []);
  t.strictSame(gone.lastGood, {});
  const activeOnly = buildDesired(etcd({ active: 'green' }), [SERVICES], GOOD, 1);
  t.strictSame(activeOnly.vhosts, []);
  t.strictSame(activeOnly.lastGood, {});
});

t.test('a stored version that no longer validates is dropped with a problem, never served', async (t) => {
  const stored: LastGoodRecords = { [HOST]: { spec: SPEC, active: 'green\nserver x 1.2.3.4:80', revision: 3, since: null } };
  const d = buildDesired(etcd({ spec: SPEC, active: 'gren' }), [SERVICES], stored, 1);
  t.strictSame(d.vhosts, []);
  t.strictSame(d.lastGood, {});
  t.match(d.problems, [{ code: 'ACTIVE_INVALID' }, { code: 'STATE_INVALID', host: HOST, message: /no longer validates/ }]);
});

t.test('the state file round-trips, and bad content is reported, not trusted', async (t) => {
  const text = formatLastGood({ [HOST]: { ...GOOD[HOST]!, since: 5 } });
  t.strictSame(parseLastGood(text, '/s/last-good.json'), { records: { [HOST]: { ...GOOD[HOST], since: 5 } }, problems: [] });
  t.match(parseLastGood('{"format":1,"vhosts":{', '/s/f'), { records: {}, problems: [{ code: 'STATE_INVALID', source: 'state file /s/f', message: /not JSON/ }] });
  t.match(parseLastGood('{"format":2,"vhosts":{}}', '/s/f'), { records: {}, problems: [{ code: 'STATE_INVALID', message: /not a format 1/ }] });
  const mixed = parseLastGood(JSON.stringify({ format: 1, vhosts: { [HOST]: GOOD[HOST], 'Bad Host': GOOD[HOST], 'b.example.com': { spec: 1, active: null, revision: 1, since: null } } }), '/s/f');
  t.strictSame(Object.keys(mixed.records), [HOST], 'only the valid entry is kept');
  t.equal(mixed.problems.length, 2);
  t.match(mixed.problems, [{ code: 'STATE_INVALID', message: /Bad Host/ }, { code: 'STATE_INVALID', message: /spec must be a string/ }]);
});
