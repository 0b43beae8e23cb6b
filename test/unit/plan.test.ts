// Applied vs desired → noop, runtime operations, or a reload, with the reason.
import t from 'tap';
import { buildDesired } from '../../src/core/desired.ts';
import type { Endpoint, EtcdSnapshot, RenderSettings, TemplatesSnapshot } from '../../src/core/model.ts';
import { plan, type AppliedState, type RuntimeOp, type Target } from '../../src/core/plan.ts';
import { renderView, templateView } from '../../src/core/render.ts';
import { layoutSlots, type Layout } from '../../src/core/slots.ts';
import { BUNDLED_TEMPLATES, readTemplates } from '../../src/sources/templates.ts';

const SETTINGS: RenderSettings = { node: 'lb-1', adminSocket: '/run/admin.sock', mapsDir: '/etc/haproxy/maps', bind: [[':80']], spareSlots: 2 };
const templates = await readTemplates([BUNDLED_TEMPLATES]);

interface World {
  readonly vhosts: Readonly<Record<string, { spec?: Record<string, unknown>; active?: string }>>;
  readonly services: Readonly<Record<string, readonly Endpoint[]>>;
}

const ep = (n: number, port = 8080): Endpoint => ({ address: `10.0.0.${n}`, port });
const spec = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  backends: { blue: { service: 'shop/web-blue', port: 'http' }, green: { service: 'shop/web-green', port: 'http' } },
  default: 'blue',
  ...extra,
});
const BASE: World = {
  vhosts: { 'shop.example.com': { spec: spec() } },
  services: { 'shop/web-blue': [ep(1), ep(2)], 'shop/web-green': [ep(11), ep(12)] },
};

function etcdOf(world: World): EtcdSnapshot {
  const entries: Record<string, { value: string; modRevision: number }> = {};
  for (const [host, keys] of Object.entries(world.vhosts)) {
    if (keys.spec) entries[`vhosts/${host}/spec`] = { value: JSON.stringify(keys.spec), modRevision: 1 };
    if (keys.active) entries[`vhosts/${host}/active`] = { value: keys.active, modRevision: 2 };
  }
  return { prefix: '/haproxy-sync/', revision: 2, entries };
}

/** The target for a world, its slots fitted to the previous layout the way the reconciler does it. */
function targetOf(world: World, previous: Layout | null = null, tpl: TemplatesSnapshot = templates, settings = SETTINGS): Target {
  const services = Object.fromEntries(Object.entries(world.services).map(([name, list]) => [name, { ports: { http: list } }]));
  const desired = buildDesired(etcdOf(world), [{ services, problems: [] }]);
  const layout = layoutSlots(desired.vhosts.flatMap((v) => v.backends), settings.spareSlots, previous);
  return { desired, layout, view: templateView(desired, layout, settings), templates: tpl };
}

function applied(target: Target): AppliedState {
  return { ...target, rendered: renderView(target.view, target.desired, target.templates) };
}

function step(from: World, to: World, tpl: TemplatesSnapshot = templates): { before: AppliedState; after: Target; plan: ReturnType<typeof plan> } {
  const before = applied(targetOf(from));
  const after = targetOf(to, before.layout, tpl);
  return { before, after, plan: plan(before, after) };
}

function ops(p: ReturnType<typeof plan>): readonly RuntimeOp[] {
  return p.mode === 'runtime' ? p.ops : [];
}

t.test('nothing applied yet → reload', async (t) => {
  t.match(plan(null, targetOf(BASE)), { mode: 'reload', reason: /first apply since start/ });
});

t.test('same world → noop, even with a fresh templates snapshot of equal content', async (t) => {
  const before = applied(targetOf(BASE));
  t.strictSame(plan(before, targetOf(BASE, before.layout, { ...templates, files: { ...templates.files } })), { mode: 'noop' });
});

t.test('a colour flip is one set map on the hosts map', async (t) => {
  const { plan: p } = step(BASE, { ...BASE, vhosts: { 'shop.example.com': { spec: spec(), active: 'green' } } });
  t.equal(p.mode, 'runtime');
  t.strictSame(ops(p), [{ kind: 'set-map', map: 'hosts.map', key: 'shop.example.com', value: 'be_shop.example.com_green' }]);
  t.match(p, { reason: 'shop.example.com → be_shop.example.com_green' });
});

t.test('a wildcard flip is a set map on the wildcard map, keyed by the suffix', async (t) => {
  const world: World = { ...BASE, vhosts: { ...BASE.vhosts, '*.shop.example.com': { spec: spec() } } };
  const { plan: p } = step(world, { ...world, vhosts: { ...world.vhosts, '*.shop.example.com': { spec: spec(), active: 'green' } } });
  t.strictSame(ops(p), [{ kind: 'set-map', map: 'wildcards.map', key: '.shop.example.com', value: 'be__.shop.example.com_green' }]);
});

t.test('pod churn fills and frees slots; nothing else', async (t) => {
  const { plan: added } = step(BASE, { ...BASE, services: { ...BASE.services, 'shop/web-blue': [ep(1), ep(2), ep(3)] } });
  t.strictSame(ops(added), [{ kind: 'fill-slot', backend: 'be_shop.example.com_blue', server: 'srv3', endpoint: ep(3) }]);
  const { plan: removed } = step(BASE, { ...BASE, services: { ...BASE.services, 'shop/web-blue': [ep(2)] } });
  t.strictSame(ops(removed), [{ kind: 'free-slot', backend: 'be_shop.example.com_blue', server: 'srv1' }]);
  const { plan: replaced } = step(BASE, { ...BASE, services: { ...BASE.services, 'shop/web-blue': [ep(2), ep(9, 9090)] } });
  t.strictSame(ops(replaced), [{ kind: 'fill-slot', backend: 'be_shop.example.com_blue', server: 'srv1', endpoint: ep(9, 9090) }], 'the newcomer takes the slot the leaver freed: one fill');
});

t.test('ops are ordered: fills, then map changes, then frees', async (t) => {
  const { plan: p } = step(BASE, {
    vhosts: { 'shop.example.com': { spec: spec(), active: 'green' } },
    services: { 'shop/web-blue': [ep(1)], 'shop/web-green': [ep(11), ep(12), ep(13)] },
  });
  t.strictSame(ops(p).map((o) => o.kind), ['fill-slot', 'set-map', 'free-slot']);
});

t.test('a spec that points a colour at another service is churn, not structure', async (t) => {
  const other = spec({ backends: { blue: { service: 'shop/web-blue', port: 'http' }, green: { service: 'shop/other', port: 'http' } } });
  const { plan: p } = step(BASE, { vhosts: { 'shop.example.com': { spec: other } }, services: { ...BASE.services, 'shop/other': [ep(21)] } });
  t.equal(p.mode, 'runtime');
  t.strictSame(ops(p).map((o) => o.kind), ['fill-slot', 'free-slot']);
});

t.test('structure → reload, with the reason', async (t) => {
  const reason = (to: World, tpl?: TemplatesSnapshot): unknown => {
    const p = step(BASE, to, tpl).plan;
    return p.mode === 'reload' ? p.reason : `not a reload: ${p.mode}`;
  };
  t.equal(reason({ ...BASE, vhosts: { ...BASE.vhosts, 'new.example.com': { spec: spec() } } }), 'vhost new.example.com added');
  t.equal(reason({ ...BASE, vhosts: {} }), 'vhost shop.example.com removed');
  const withRed = spec({ backends: { ...(spec()['backends'] as object), red: { service: 'shop/web-blue', port: 'http' } } });
  t.equal(reason({ ...BASE, vhosts: { 'shop.example.com': { spec: withRed } } }), 'backend be_shop.example.com_red added');
  t.equal(reason({ ...BASE, vhosts: { 'shop.example.com': { spec: spec({ balance: 'leastconn' }) } } }), 'backend be_shop.example.com_blue settings changed');
  t.equal(reason({ ...BASE, vhosts: { 'shop.example.com': { spec: spec({ health: { path: '/healthz' } }) } } }), 'backend be_shop.example.com_blue settings changed');
  t.equal(
    reason({ ...BASE, services: { ...BASE.services, 'shop/web-green': [ep(11), ep(12), ep(13), ep(14), ep(15)] } }),
    'backend be_shop.example.com_green ran out of server slots (5 servers, 4 slots)',
  );
  t.equal(reason(BASE, { ...templates, files: { ...templates.files, 'backend.eta': `${templates.files['backend.eta']}    # x\n` } }), 'templates changed');
});

t.test('settings the templates see → reload', async (t) => {
  const before = applied(targetOf(BASE));
  const after = targetOf(BASE, before.layout, templates, { ...SETTINGS, bind: [[':8080']] });
  t.match(plan(before, after), { mode: 'reload', reason: /settings/ });
});

t.test('after runtime ops, a reload would load a config differing only in server lines', async (t) => {
  const to: World = {
    vhosts: { 'shop.example.com': { spec: spec(), active: 'green' } },
    services: { 'shop/web-blue': [ep(2)], 'shop/web-green': [ep(11), ep(12), ep(13)] },
  };
  const { before, after, plan: p } = step(BASE, to);
  t.equal(p.mode, 'runtime');
  const rendered = renderView(after.view, after.desired, after.templates);
  const oldLines = before.rendered.config.split('\n');
  const newLines = rendered.config.split('\n');
  t.equal(newLines.length, oldLines.length, 'same number of lines');
  const changed = newLines.filter((line, i) => line !== oldLines[i]);
  t.ok(changed.length > 0 && changed.every((line) => /^\s+server srv\d+ /.test(line)), `only server lines differ: ${changed.join(' | ')}`);
  t.not(rendered.maps['hosts.map'], before.rendered.maps['hosts.map'], 'the map file carries the flip');
});
