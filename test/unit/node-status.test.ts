import t from 'tap';
import { appliedState } from '../helpers/applied.ts';
import { nodeStatusInSlices, nodeStatusOf, parseNodeStatus, refreshIntervalMs } from '../../src/fleet/nodes.ts';
import type { AppliedState } from '../../src/core/plan.ts';
import { freshSlots } from '../../src/core/slots.ts';

t.test('a node reports its applied revision, config hash, and per vhost the live colour and servers up/total', async (t) => {
  const servers = [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.2', port: 80 }];
  const backend = (colour: string) => ({
    name: `be_a.example.com_${colour}`, host: 'a.example.com', colour, service: `ns/a-${colour}`, port: 'http', balance: 'roundrobin' as const, healthPath: null, minReady: 1, servers,
  });
  const applied: AppliedState = appliedState(
    { revision: 42, problems: [], vhosts: [{ host: 'a.example.com', active: 'green', revision: 40, backends: [backend('blue'), backend('green')] }] },
    { 'be_a.example.com_blue': freshSlots(servers, 4), 'be_a.example.com_green': freshSlots(servers, 4) },
    { config: 'global\n', maps: { 'hosts.map': 'a.example.com be_a.example.com_green\n' } },
  );
  const stats = new Map([
    ['be_a.example.com_blue/srv1', { status: 'no check', check: '' }],
    ['be_a.example.com_blue/srv2', { status: 'no check', check: '' }],
    ['be_a.example.com_green/srv1', { status: 'no check', check: '' }],
  ]);
  const status = nodeStatusOf('lb-1', applied, stats, Date.UTC(2025, 0, 2, 3, 4, 5));
  t.match(status, {
    node: 'lb-1',
    revision: 42,
    configHash: /^[0-9a-f]{16}$/,
    appliedAt: '2025-01-02T03:04:05.000Z',
    vhosts: { 'a.example.com': { active: 'green', servers: { blue: { up: 2, total: 2 }, green: { up: 1, total: 2 } } } },
  });
  t.same(nodeStatusOf('lb-1', null, new Map(), null), { node: 'lb-1', revision: 0, configHash: null, appliedAt: null, haproxy: { known: true, unknownSince: null }, vhosts: {} }, 'before the first apply');
});

t.test('a status read back from etcd is validated: garbage becomes a node that confirmed nothing', async (t) => {
  t.same(parseNodeStatus('lb-9', 'not json'), { node: 'lb-9', revision: 0, configHash: null, appliedAt: null, vhosts: {} });
  t.same(parseNodeStatus('lb-9', '{"revision":"12"}').revision, 0, 'a revision must be a number');
  const parsed = parseNodeStatus('lb-2', JSON.stringify({ node: 'someone-else', revision: 7, configHash: 5, vhosts: { 'a.example.com': { active: 'blue', servers: { blue: { up: 1, total: 2 }, bad: 'x' } }, 'b.example.com': { active: 3 } } }));
  t.same(parsed, { node: 'lb-2', revision: 7, configHash: null, appliedAt: null, vhosts: { 'a.example.com': { active: 'blue', servers: { blue: { up: 1, total: 2 } } } } }, 'the key names the node; bad parts are dropped');
});

t.test('built in slices, the status is the one built at once', async (t) => {
  const servers = [{ address: '10.0.0.1', port: 80 }];
  const vhosts = Array.from({ length: 1201 }, (_, i) => {
    const host = `h${i}.example.com`;
    return { host, active: 'blue', revision: 1, backends: [{ name: `be_${host}_blue`, host, colour: 'blue', service: 'ns/a', port: 'http', balance: 'roundrobin' as const, healthPath: null, minReady: 1, servers }] };
  });
  const applied: AppliedState = appliedState(
    { revision: 7, problems: [], vhosts },
    Object.fromEntries(vhosts.map((v) => [`be_${v.host}_blue`, freshSlots(servers, 2)])),
    { config: 'global\n', maps: {} },
  );
  const stats = new Map(vhosts.filter((_, i) => i % 2 === 0).map((v) => [`be_${v.host}_blue/srv1`, { status: 'no check', check: '' }]));
  const sliced = await nodeStatusInSlices('lb-1', applied, stats, 0);
  t.same(sliced, nodeStatusOf('lb-1', applied, stats, 0));
  t.same(sliced.vhosts['h1200.example.com'], { active: 'blue', servers: { blue: { up: 1, total: 1 } } });
});

t.test('the refresh slows down as servers grow', async (t) => {
  t.equal(refreshIntervalMs(0), 2000);
  t.equal(refreshIntervalMs(20_000), 2000);
  t.equal(refreshIntervalMs(20_001), 3000);
  t.equal(refreshIntervalMs(280_000), 28_000);
});
