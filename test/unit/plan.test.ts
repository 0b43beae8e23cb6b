// Applied vs desired → noop or reload.
import t from 'tap';
import type { DesiredState, Rendered } from '../../src/core/model.ts';
import { plan, sameMaps, type AppliedState, type Target } from '../../src/core/plan.ts';

const DESIRED: DesiredState = { revision: 5, vhosts: [], problems: [] };

function target(config: string, maps: Record<string, string>, desired: DesiredState = DESIRED): Target & AppliedState {
  const rendered: Rendered = { config, maps };
  return { desired, layout: {}, rendered };
}

const CONFIG = 'global\n    stats timeout 30s\n';
const MAPS = { 'hosts.map': 'a.example.com be_a.example.com_blue\n', 'wildcards.map': '' };

t.test('nothing applied yet → reload', async (t) => {
  t.strictSame(plan(null, target(CONFIG, MAPS)), { mode: 'reload', reason: 'first apply since start' });
});

t.test('identical files → noop', async (t) => {
  t.strictSame(plan(target(CONFIG, MAPS), target(CONFIG, { ...MAPS })), { mode: 'noop' });
  t.strictSame(
    plan(target(CONFIG, MAPS), target(`${CONFIG}`, { 'wildcards.map': '', 'hosts.map': MAPS['hosts.map'] }, { revision: 99, vhosts: [], problems: [] })),
    { mode: 'noop' },
    'map key order and a newer revision do not matter when the files are equal',
  );
});

t.test('config differs → reload', async (t) => {
  t.strictSame(plan(target(CONFIG, MAPS), target(`${CONFIG}    hard-stop-after 30s\n`, MAPS)), { mode: 'reload', reason: 'config changed' });
  t.strictSame(plan(target(CONFIG, MAPS), target(CONFIG.replace('\n', '\r\n'), MAPS)), { mode: 'reload', reason: 'config changed' }, 'byte difference');
});

t.test('maps differ → reload', async (t) => {
  t.strictSame(plan(target(CONFIG, MAPS), target(CONFIG, { ...MAPS, 'hosts.map': 'a.example.com be_a.example.com_green\n' })), { mode: 'reload', reason: 'maps changed' });
  t.strictSame(plan(target(CONFIG, MAPS), target(CONFIG, { 'hosts.map': MAPS['hosts.map'] })), { mode: 'reload', reason: 'maps changed' }, 'a map gone');
  t.strictSame(plan(target(CONFIG, MAPS), target(CONFIG, { ...MAPS, 'extra.map': '' })), { mode: 'reload', reason: 'maps changed' }, 'a map added');
});

t.test('config and maps both differ: the config is named', async (t) => {
  t.strictSame(plan(target(CONFIG, MAPS), target('x\n', {})), { mode: 'reload', reason: 'config changed' });
});

t.test('sameMaps', async (t) => {
  t.equal(sameMaps({}, {}), true);
  t.equal(sameMaps({ a: '1' }, { a: '1' }), true);
  t.equal(sameMaps({ a: '1' }, { a: '2' }), false);
  t.equal(sameMaps({ a: '1' }, { b: '1' }), false);
  t.equal(sameMaps({ a: '' }, {}), false);
  t.equal(sameMaps({}, { a: '' }), false);
});
