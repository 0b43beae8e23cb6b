import t from 'tap';
import { appliedState } from '../helpers/applied.ts';
import { backendHealth, healthGate, isCheckPending, isServerUp, statKey, type StatEntry } from '../../src/core/health.ts';
import type { Backend } from '../../src/core/model.ts';
import type { AppliedState } from '../../src/core/plan.ts';
import { freshSlots } from '../../src/core/slots.ts';

const GREEN: Backend = {
  name: 'be_shop.example.com_green', host: 'shop.example.com', colour: 'green', service: 'shop/web-green', port: 'http', balance: 'roundrobin',
  healthPath: '/healthz', minReady: 2,
  servers: [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.2', port: 80 }, { address: '10.0.0.3', port: 80 }],
};

function applied(backend: Backend): AppliedState {
  return appliedState(
    { revision: 9, problems: [], vhosts: [{ host: backend.host, active: 'blue', revision: 9, backends: [backend] }] },
    { [backend.name]: freshSlots(backend.servers, 2) },
    { config: '', maps: {} },
  );
}

function stats(rows: Record<string, StatEntry>): Map<string, StatEntry> {
  return new Map(Object.entries(rows).map(([srv, e]) => [statKey(GREEN.name, srv), e]));
}

t.test('up means HAProxy routes to it and its last check passed', async (t) => {
  t.ok(isServerUp({ status: 'UP', check: 'L7OK' }));
  t.ok(isServerUp({ status: 'UP', check: 'L4OK' }));
  t.ok(isServerUp({ status: 'UP', check: '* L7OK' }), 'a check in progress after a pass');
  t.ok(isServerUp({ status: 'no check', check: '' }), 'without health.path HAProxy does not check; it routes to it');
  t.notOk(isServerUp({ status: 'UP 1/2', check: 'INI' }), 'UP only because HAProxy starts servers UP');
  t.notOk(isServerUp({ status: 'UP 1/3', check: 'L7STS' }), 'going down: the last check failed');
  t.notOk(isServerUp({ status: 'DOWN', check: 'L7STS' }));
  t.notOk(isServerUp({ status: 'MAINT', check: '' }));
  t.notOk(isServerUp({ status: 'DRAIN', check: 'L7OK' }));
  t.notOk(isServerUp(undefined), 'a server HAProxy does not list');
  t.ok(isCheckPending({ status: 'UP 1/2', check: 'INI' }));
  t.notOk(isCheckPending({ status: 'DOWN', check: 'L7STS' }));
});

t.test('backend health counts the servers in slots, not the free slots', async (t) => {
  const h = backendHealth(GREEN, applied(GREEN), stats({
    srv1: { status: 'UP', check: 'L7OK' },
    srv2: { status: 'DOWN', check: 'L7STS' },
    srv3: { status: 'UP 1/2', check: 'INI' },
    srv4: { status: 'MAINT', check: '' },
  }));
  t.match(h, { colour: 'green', ready: 3, up: 1, minReady: 2 });
  t.same(h.servers.map((s) => [s.name, s.address, s.up, s.pending]), [
    ['srv1', '10.0.0.1:80', true, false],
    ['srv2', '10.0.0.2:80', false, false],
    ['srv3', '10.0.0.3:80', false, true],
  ]);
});

t.test('the gate passes with minReady servers up, and otherwise says why and lists the failing servers', async (t) => {
  const state = applied(GREEN);
  const twoUp = backendHealth(GREEN, state, stats({ srv1: { status: 'UP', check: 'L7OK' }, srv2: { status: 'UP', check: 'L7OK' }, srv3: { status: 'DOWN', check: 'L7STS' } }));
  t.same(healthGate('shop.example.com', twoUp), { ok: true });

  const oneUp = backendHealth(GREEN, state, stats({ srv1: { status: 'UP', check: 'L7OK' }, srv2: { status: 'DOWN', check: 'L7STS' }, srv3: { status: 'UP 1/2', check: 'INI' } }));
  const refused = healthGate('shop.example.com', oneUp);
  t.match(refused, { ok: false, pending: true, reason: 'shop.example.com green has 1 of 3 servers up according to health checks on /healthz, fewer than health.minReady 2 (some were not checked yet since HAProxy reloaded)' });
  t.same(refused.ok ? [] : refused.failing.map((s) => s.name), ['srv2', 'srv3']);

  const empty: Backend = { ...GREEN, servers: [] };
  t.match(healthGate('shop.example.com', backendHealth(empty, applied(empty), new Map())), {
    ok: false,
    pending: false,
    reason: 'shop.example.com green has 0 ready endpoints of service shop/web-green, fewer than health.minReady 2',
  });
  const none: Backend = { ...GREEN, minReady: 0, servers: [] };
  t.same(healthGate('shop.example.com', backendHealth(none, applied(none), new Map())), { ok: true }, 'minReady 0 lets an empty colour go live');
});
