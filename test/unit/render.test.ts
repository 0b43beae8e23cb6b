// Rendering with the bundled templates: golden output, maps, and the refusing escape.
// Set UPDATE_GOLDEN=1 to rewrite test/fixtures/golden/basic.cfg from the current output.
import t from 'tap';
import type * as Tap from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haproxyWord } from '../../src/core/escape.ts';
import type { Backend, DesiredState, Endpoint, RenderSettings, TemplatesSnapshot, VHost } from '../../src/core/model.ts';
import { HOSTS_MAP, MAIN_TEMPLATE, WILDCARDS_MAP, mapPath, render, renderMaps } from '../../src/core/render.ts';
import { layoutSlots } from '../../src/core/slots.ts';
import { SyncError } from '../../src/errors.ts';
import { readTemplates } from '../../src/sources/templates.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GOLDEN = join(ROOT, 'test/fixtures/golden/basic.cfg');

const ep = (address: string, port = 8080): Endpoint => ({ address, port });

function be(host: string, colour: string, servers: Endpoint[], extra: Partial<Backend> = {}): Backend {
  return {
    name: `be_${host.replace('*', '_')}_${colour}`,
    host,
    colour,
    service: `shop/web-${colour}`,
    port: 'http',
    balance: 'roundrobin',
    healthPath: null,
    minReady: 1,
    servers,
    ...extra,
  };
}

function vhost(host: string, active: string, backends: Backend[]): VHost {
  return { host, active, backends, revision: 1 };
}

function state(vhosts: VHost[]): DesiredState {
  return { revision: 10, vhosts, problems: [] };
}

const SETTINGS: RenderSettings = {
  node: 'lb-1',
  adminSocket: '/run/haproxy/admin.sock',
  mapsDir: '/etc/haproxy/maps/',
  bind: [[':80'], ['[::]:80', 'v4v6']],
  spareSlots: 2,
};

const BASIC = state([
  vhost('*.example.com', 'main', [be('*.example.com', 'main', [ep('fd00::1')], { balance: 'leastconn' })]),
  vhost('empty.example.com', 'blue', [be('empty.example.com', 'blue', [])]),
  vhost('shop.example.com', 'green', [
    be('shop.example.com', 'blue', [ep('10.0.0.11'), ep('10.0.0.12')], { healthPath: '/healthz' }),
    be('shop.example.com', 'green', [ep('10.0.1.1')], { healthPath: '/healthz' }),
  ]),
]);

function renderBasic(templates: TemplatesSnapshot, desired = BASIC): ReturnType<typeof render> {
  const layout = layoutSlots(desired.vhosts.flatMap((v) => v.backends), SETTINGS.spareSlots, null);
  return render(desired, layout, SETTINGS, templates);
}

const bundled = await readTemplates([join(ROOT, 'templates')]);

/** Asserts that fn throws a SyncError with this code and a message matching the pattern. */
function throwsSync(t: Tap.Test, fn: () => unknown, code: string, message: RegExp, what?: string): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  t.type(caught, SyncError, what ?? 'throws a SyncError');
  t.equal((caught as SyncError | null)?.code, code, what ?? 'error code');
  t.match((caught as Error | null)?.message ?? '(no error)', message, what ?? 'error message');
}

t.test('golden: basic.cfg', async (t) => {
  const { config } = renderBasic(bundled);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(GOLDEN), { recursive: true });
    writeFileSync(GOLDEN, config);
    t.comment(`rewrote ${GOLDEN}`);
  }
  t.equal(config, readFileSync(GOLDEN, 'utf8'));
});

t.test('the rendered config has the expected structure', async (t) => {
  const { config } = renderBasic(bundled);
  t.match(config, /^# haproxy\.cfg for lb-1, rendered by haproxy-sync\./);
  t.ok(config.endsWith('\n') && !config.endsWith('\n\n'), 'one trailing newline');
  t.notMatch(config, /\n\n\n/, 'no runs of blank lines');
  t.notMatch(config, /[ \t]$/m, 'no trailing blanks');
  t.match(config, /\n {4}stats socket \/run\/haproxy\/admin\.sock mode 600 level admin expose-fd listeners\n/);
  t.match(config, /\n {4}bind :80\n {4}bind \[::\]:80 v4v6\n/);
  t.match(config, /map\(\/etc\/haproxy\/maps\/hosts\.map\)/, 'maps dir without its trailing slash');
  t.match(config, /map_end\(\/etc\/haproxy\/maps\/wildcards\.map\)/);
  t.match(config, /\nbackend be_shop\.example\.com_blue\n {4}balance roundrobin\n {4}option httpchk GET \/healthz\n {4}server srv1 10\.0\.0\.11:8080 check inter 2s fall 2 rise 1\n {4}server srv2 10\.0\.0\.12:8080 check inter 2s fall 2 rise 1\n {4}server srv3 0\.0\.0\.0:0 check inter 2s fall 2 rise 1 disabled\n {4}server srv4 0\.0\.0\.0:0 check inter 2s fall 2 rise 1 disabled\n/);
  t.match(config, /\nbackend be__\.example\.com_main\n {4}balance leastconn\n {4}server srv1 \[fd00::1\]:8080\n {4}server srv2 0\.0\.0\.0:0 disabled\n {4}server srv3 0\.0\.0\.0:0 disabled\n/);
  t.match(config, /\nbackend be_empty\.example\.com_blue\n {4}balance roundrobin\n {4}server srv1 0\.0\.0\.0:0 disabled\n {4}server srv2 0\.0\.0\.0:0 disabled\n/);
  t.equal(config.match(/^backend /gm)?.length, 5, 'be_no_vhost and four vhost backends');
});

t.test('identical input renders byte-identical output', async (t) => {
  const a = renderBasic(bundled);
  const b = renderBasic(bundled);
  const c = renderBasic(await readTemplates([join(ROOT, 'templates')]));
  t.equal(a.config, b.config);
  t.equal(a.config, c.config, 'freshly read templates too');
  t.strictSame(a.maps, b.maps);
  t.strictSame(a.maps, c.maps);
});

t.test('maps: exact hosts in hosts.map, wildcards by suffix in wildcards.map', async (t) => {
  const { maps } = renderBasic(bundled);
  t.strictSame(Object.keys(maps).sort(), [HOSTS_MAP, WILDCARDS_MAP].sort());
  t.equal(maps[HOSTS_MAP], 'empty.example.com be_empty.example.com_blue\nshop.example.com be_shop.example.com_green\n', 'the active colour is live');
  t.equal(maps[WILDCARDS_MAP], '.example.com be__.example.com_main\n', '*.example.com → .example.com');
});

t.test('maps: longer wildcard suffixes come first', async (t) => {
  const w = (host: string): VHost => vhost(host, 'blue', [be(host, 'blue', [])]);
  const maps = renderMaps(state([w('*.a.example.com'), w('*.com'), w('*.example.com'), w('*.b.example.com'), w('x.example.com')]));
  t.equal(
    maps[WILDCARDS_MAP],
    [
      '.a.example.com be__.a.example.com_blue',
      '.b.example.com be__.b.example.com_blue',
      '.example.com be__.example.com_blue',
      '.com be__.com_blue',
      '',
    ].join('\n'),
  );
  t.equal(maps[HOSTS_MAP], 'x.example.com be_x.example.com_blue\n');
});

t.test('maps: no vhosts, empty maps', async (t) => {
  t.strictSame(renderMaps(state([])), { [HOSTS_MAP]: '', [WILDCARDS_MAP]: '' });
});

t.test('mapPath joins the maps dir and a file', async (t) => {
  t.equal(mapPath({ ...SETTINGS, mapsDir: '/m' }, 'hosts.map'), '/m/hosts.map');
  t.equal(mapPath({ ...SETTINGS, mapsDir: '/m//' }, 'hosts.map'), '/m/hosts.map');
});

t.test('a template that interpolates an unsafe value throws TEMPLATE_INVALID', async (t) => {
  const unsafe: Array<[string, RegExp]> = [
    ["<%= 'a b' %>", /tried to write "a b" into haproxy\.cfg/],
    ["<%= 'x\\nserver y' %>", /tried to write "x\\nserver y" into haproxy\.cfg/],
    ["<%= '#' %>", /tried to write "#" into haproxy\.cfg/],
    [`<%= '"q"' %>`, /tried to write "\\"q\\"" into haproxy\.cfg/],
    ["<%= \"it's\" %>", /tried to write "it's" into haproxy\.cfg/],
    ["<%= 'a\\\\b' %>", /tried to write "a\\\\b" into haproxy\.cfg/],
    ["<%= '' %>", /tried to write "" into haproxy\.cfg/],
    ['<%= null %>', /tried to write null into haproxy\.cfg/],
    ['<%= it.missing %>', /tried to write undefined into haproxy\.cfg/],
  ];
  for (const [body, message] of unsafe) {
    const templates: TemplatesSnapshot = { dir: '/custom', files: { [MAIN_TEMPLATE]: `global\n    x ${body}\n` } };
    throwsSync(t, () => renderBasic(templates), 'TEMPLATE_INVALID', message, body);
    throwsSync(t, () => renderBasic(templates), 'TEMPLATE_INVALID', /^templates in \/custom: /, `${body}: names the directory`);
  }
});

t.test('unsafe values in a partial are refused too', async (t) => {
  const templates: TemplatesSnapshot = {
    dir: '/custom',
    files: { ...bundled.files, 'backend.eta': "backend <%= it.name %>\n    server x <%= 'a b' %>\n" },
  };
  throwsSync(t, () => renderBasic(templates), 'TEMPLATE_INVALID', /tried to write "a b"/);
});

t.test('safe custom templates render, with partials by either name', async (t) => {
  const templates: TemplatesSnapshot = {
    dir: '/custom',
    files: { [MAIN_TEMPLATE]: "<%~ include('@part', it) %>\n<%~ include('@part.eta', it) %>\n", 'part.eta': 'n <%= it.node %> <%= 42 %>' },
  };
  t.equal(renderBasic(templates).config, 'n lb-1 42\nn lb-1 42\n');
});

t.test('a template that fails at render time throws TEMPLATE_INVALID', async (t) => {
  const templates: TemplatesSnapshot = { dir: '/custom', files: { [MAIN_TEMPLATE]: '<%= it.nope.deeper %>' } };
  throwsSync(t, () => renderBasic(templates), 'TEMPLATE_INVALID', /^templates in \/custom: .*deeper/);
});

t.test('a template that does not compile throws TEMPLATE_INVALID naming the file', async (t) => {
  const templates: TemplatesSnapshot = { dir: '/custom', files: { [MAIN_TEMPLATE]: '<% if ( %>' } };
  throwsSync(t, () => renderBasic(templates), 'TEMPLATE_INVALID', /^template \/custom\/haproxy\.cfg\.eta: /);
});

t.test('templates without haproxy.cfg.eta → TEMPLATE_INVALID', async (t) => {
  const templates: TemplatesSnapshot = { dir: '/custom', files: { 'backend.eta': 'x' } };
  throwsSync(t, () => renderBasic(templates), 'TEMPLATE_INVALID', /^template directory \/custom has no haproxy\.cfg\.eta$/);
});

t.test('haproxyWord', async (t) => {
  t.equal(haproxyWord(0), '0');
  t.equal(haproxyWord(8080), '8080');
  t.equal(haproxyWord(-1.5), '-1.5');
  for (const w of ['srv1', '10.0.0.1:8080', '[fd00::1]:8080', '/run/haproxy/admin.sock', 'be__.example.com_blue', '%[var(txn.host)]', 'a'.repeat(1024)]) {
    t.equal(haproxyWord(w), w, w.length > 40 ? `${w.length}-char word` : w);
  }
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, true, {}, [], null, undefined, '', 'a b', 'a\tb', 'a\nb', 'a\rb', 'a#b', 'a"b', "a'b", 'a\\b', 'a;b', 'a'.repeat(1025)]) {
    throwsSync(t, () => haproxyWord(bad), 'TEMPLATE_INVALID', /^a template tried to write .* into haproxy\.cfg; only single words/, JSON.stringify(bad) ?? String(bad));
  }
});
