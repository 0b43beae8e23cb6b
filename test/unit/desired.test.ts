// Snapshots → desired state: every bad value leaves out only what it belongs to.
import t from 'tap';
import { backendName, buildDesired, mergeServices, sortEndpoints } from '../../src/core/desired.ts';
import type { Endpoint, EtcdEntry, EtcdSnapshot, Problem, ServicesSnapshot } from '../../src/core/model.ts';

const PREFIX = '/haproxy-sync/';

function etcd(entries: Record<string, string | EtcdEntry>, revision = 100): EtcdSnapshot {
  const out: Record<string, EtcdEntry> = {};
  let rev = 1;
  for (const [k, v] of Object.entries(entries)) out[k] = typeof v === 'string' ? { value: v, modRevision: rev++ } : v;
  return { prefix: PREFIX, revision, entries: out };
}

function ep(address: string, port = 8080): Endpoint {
  return { address, port };
}

function services(map: Record<string, Record<string, Endpoint[]>>, problems: Problem[] = []): ServicesSnapshot {
  return { services: Object.fromEntries(Object.entries(map).map(([ref, ports]) => [ref, { ports }])), problems };
}

const BLUE_GREEN = JSON.stringify({
  backends: {
    blue: { service: 'shop/web-blue', port: 'http' },
    green: { service: 'shop/web-green', port: 'http' },
  },
  default: 'blue',
  health: { path: '/healthz', minReady: 1 },
  balance: 'roundrobin',
});

const SHOP = services({
  'shop/web-blue': { http: [ep('10.0.0.12'), ep('10.0.0.11')], '80': [ep('10.0.0.12'), ep('10.0.0.11')] },
  'shop/web-green': { http: [ep('10.0.1.1')], '80': [ep('10.0.1.1')] },
});

t.test('a blue/green vhost with an active key', async (t) => {
  const d = buildDesired(
    etcd({
      'vhosts/shop.example.com/spec': { value: BLUE_GREEN, modRevision: 7 },
      'vhosts/shop.example.com/active': { value: 'green\n', modRevision: 9 },
    }, 42),
    [SHOP],
  );
  t.strictSame(d, {
    revision: 42,
    problems: [],
    vhosts: [
      {
        host: 'shop.example.com',
        active: 'green',
        revision: 9,
        backends: [
          {
            name: 'be_shop.example.com_blue',
            host: 'shop.example.com',
            colour: 'blue',
            service: 'shop/web-blue',
            port: 'http',
            balance: 'roundrobin',
            healthPath: '/healthz',
            minReady: 1,
            servers: [ep('10.0.0.11'), ep('10.0.0.12')],
          },
          {
            name: 'be_shop.example.com_green',
            host: 'shop.example.com',
            colour: 'green',
            service: 'shop/web-green',
            port: 'http',
            balance: 'roundrobin',
            healthPath: '/healthz',
            minReady: 1,
            servers: [ep('10.0.1.1')],
          },
        ],
      },
    ],
    lastGood: { 'shop.example.com': { spec: BLUE_GREEN, active: 'green\n', revision: 9, since: null } },
  });
});

t.test('a missing active key means the default colour; revision is the spec key\'s', async (t) => {
  const d = buildDesired(etcd({ 'vhosts/shop.example.com/spec': { value: BLUE_GREEN, modRevision: 7 } }), [SHOP]);
  t.equal(d.vhosts.length, 1);
  t.equal(d.vhosts[0]?.active, 'blue');
  t.equal(d.vhosts[0]?.revision, 7);
  t.strictSame(d.problems, []);
});

t.test('an active key naming an unknown colour leaves the vhost out with ACTIVE_INVALID', async (t) => {
  const d = buildDesired(
    etcd({
      'vhosts/shop.example.com/spec': BLUE_GREEN,
      'vhosts/shop.example.com/active': 'red',
      'vhosts/other.example.com/spec': BLUE_GREEN,
    }),
    [SHOP],
  );
  t.strictSame(d.vhosts.map((v) => v.host), ['other.example.com']);
  t.strictSame(d.problems, [
    {
      code: 'ACTIVE_INVALID',
      host: 'shop.example.com',
      source: 'etcd key /haproxy-sync/vhosts/shop.example.com/active',
      message: '"red" is not a colour of this vhost (blue, green)',
    },
  ]);
});

t.test('an active key that is not a colour at all', async (t) => {
  const d = buildDesired(etcd({ 'vhosts/a.example.com/spec': BLUE_GREEN, 'vhosts/a.example.com/active': 'green\nserver x 1.2.3.4:80' }), [SHOP]);
  t.strictSame(d.vhosts, []);
  t.strictSame(d.problems, [
    {
      code: 'ACTIVE_INVALID',
      host: 'a.example.com',
      source: 'etcd key /haproxy-sync/vhosts/a.example.com/active',
      message: 'colour "green\\nserver x 1.2.3.4:80" must match [a-z0-9][a-z0-9-]{0,31}',
    },
  ]);
});

t.test('an active key naming an Object.prototype property is not a colour of the vhost', async (t) => {
  const d = buildDesired(etcd({ 'vhosts/a.example.com/spec': BLUE_GREEN, 'vhosts/a.example.com/active': 'constructor' }), [SHOP]);
  t.strictSame(d.vhosts, []);
  t.strictSame(d.problems.map((p) => p.code), ['ACTIVE_INVALID']);
});

t.test('a bad spec leaves out only its own vhost', async (t) => {
  const d = buildDesired(
    etcd({
      'vhosts/a.example.com/spec': BLUE_GREEN,
      'vhosts/b.example.com/spec': '{"backends": {"blue": {"service": "shop/web-blue", "port": "http"}}, "helth": {}}',
      'vhosts/c.example.com/spec': '{not json',
      'vhosts/d.example.com/spec': BLUE_GREEN,
    }),
    [SHOP],
  );
  t.strictSame(d.vhosts.map((v) => v.host), ['a.example.com', 'd.example.com']);
  t.equal(d.problems.length, 2);
  t.strictSame(d.problems[0], {
    code: 'SPEC_INVALID',
    host: 'b.example.com',
    source: 'etcd key /haproxy-sync/vhosts/b.example.com/spec',
    message: 'helth: unknown field (allowed: backends, default, health, balance, tls, redirect, hsts)',
  });
  t.match(d.problems[1], { code: 'SPEC_INVALID', host: 'c.example.com', source: 'etcd key /haproxy-sync/vhosts/c.example.com/spec', message: /^not valid JSON \(/ });
});

t.test('an active key without a spec is reported, not a vhost', async (t) => {
  const d = buildDesired(etcd({ 'vhosts/a.example.com/active': 'blue' }), [SHOP]);
  t.strictSame(d.vhosts, []);
  t.strictSame(d.problems, [
    { code: 'SPEC_INVALID', host: 'a.example.com', source: 'etcd key /haproxy-sync/vhosts/a.example.com/spec', message: 'missing (an active key alone does not make a vhost)' },
  ]);
});

t.test('keys outside vhosts/<host>/(spec|active) are ignored', async (t) => {
  const d = buildDesired(
    etcd({ 'nodes/lb-1': '{}', 'vhosts/a.example.com/other': 'x', 'vhosts/a.example.com/spec/x': 'x', 'vhosts/a.example.com': 'x' }),
    [SHOP],
  );
  t.strictSame(d, { revision: 100, vhosts: [], problems: [], lastGood: {} });
});

t.test('a host key with upper case is lower-cased', async (t) => {
  const d = buildDesired(
    etcd({ 'vhosts/Shop.Example.COM/spec': BLUE_GREEN, 'vhosts/Shop.Example.COM/active': 'green' }),
    [SHOP],
  );
  t.strictSame(d.problems, []);
  t.equal(d.vhosts.length, 1);
  t.equal(d.vhosts[0]?.host, 'shop.example.com');
  t.equal(d.vhosts[0]?.active, 'green');
  t.strictSame(d.vhosts[0]?.backends.map((b) => b.name), ['be_shop.example.com_blue', 'be_shop.example.com_green']);
});

t.test('an invalid host key is ignored with HOST_INVALID naming the key', async (t) => {
  const d = buildDesired(
    etcd({ 'vhosts/bad_host/spec': BLUE_GREEN, 'vhosts/ok.example.com/spec': BLUE_GREEN }),
    [SHOP],
  );
  t.strictSame(d.vhosts.map((v) => v.host), ['ok.example.com']);
  t.strictSame(d.problems, [
    { code: 'HOST_INVALID', source: 'etcd key /haproxy-sync/vhosts/bad_host/spec', message: '"bad_host" is not a lower-case DNS name (optionally with one leading "*.")' },
  ]);
  const spaced = buildDesired(etcd({ 'vhosts/a b.com/spec': BLUE_GREEN, 'vhosts//spec': BLUE_GREEN }), [SHOP]);
  t.strictSame(spaced.vhosts, []);
  t.strictSame(spaced.problems.map((p) => [p.code, p.source]), [
    ['HOST_INVALID', 'etcd key /haproxy-sync/vhosts//spec'],
    ['HOST_INVALID', 'etcd key /haproxy-sync/vhosts/a b.com/spec'],
  ]);
});

t.test('a wildcard host gets a backend name without "*"', async (t) => {
  const d = buildDesired(etcd({ 'vhosts/*.example.com/spec': BLUE_GREEN }), [SHOP]);
  t.strictSame(d.problems, []);
  t.equal(d.vhosts[0]?.host, '*.example.com');
  t.strictSame(d.vhosts[0]?.backends.map((b) => b.name), ['be__.example.com_blue', 'be__.example.com_green']);
  t.equal(backendName('*.a.b', 'c'), 'be__.a.b_c');
  t.equal(backendName('a.b', 'c-1'), 'be_a.b_c-1');
});

t.test('a Service no source knows: SERVICE_UNRESOLVED and a backend with zero servers', async (t) => {
  const d = buildDesired(etcd({ 'vhosts/a.example.com/spec': BLUE_GREEN }), [services({ 'shop/web-blue': { http: [ep('10.0.0.1')] } })]);
  t.equal(d.vhosts.length, 1, 'the vhost stays');
  t.strictSame(d.vhosts[0]?.backends.map((b) => [b.colour, b.servers]), [
    ['blue', [ep('10.0.0.1')]],
    ['green', []],
  ]);
  t.strictSame(d.problems, [
    {
      code: 'SERVICE_UNRESOLVED',
      host: 'a.example.com',
      source: 'etcd key /haproxy-sync/vhosts/a.example.com/spec (backends.green)',
      message: 'service shop/web-green is not known to any endpoint source',
    },
  ]);
});

t.test('a port name the Service does not have: the problem lists the known ports', async (t) => {
  const spec = JSON.stringify({ backends: { blue: { service: 'shop/web-blue', port: 'https' } } });
  const d = buildDesired(etcd({ 'vhosts/a.example.com/spec': spec }), [services({ 'shop/web-blue': { http: [ep('10.0.0.1')], admin: [ep('10.0.0.1', 9000)], '80': [ep('10.0.0.1')] } })]);
  t.strictSame(d.vhosts[0]?.backends[0]?.servers, []);
  t.strictSame(d.problems, [
    {
      code: 'SERVICE_UNRESOLVED',
      host: 'a.example.com',
      source: 'etcd key /haproxy-sync/vhosts/a.example.com/spec (backends.blue)',
      message: 'service shop/web-blue has no port "https" (ports: 80, admin, http)',
    },
  ]);
  const none = buildDesired(etcd({ 'vhosts/a.example.com/spec': spec }), [services({ 'shop/web-blue': {} })]);
  t.equal(none.problems[0]?.message, 'service shop/web-blue has no port "https" (ports: none)');
});

t.test('a port given by number resolves through the number key', async (t) => {
  const spec = JSON.stringify({ backends: { blue: { service: 'shop/web-blue', port: 80 } } });
  const d = buildDesired(etcd({ 'vhosts/a.example.com/spec': spec }), [SHOP]);
  t.strictSame(d.problems, []);
  t.strictSame(d.vhosts[0]?.backends[0]?.servers, [ep('10.0.0.11'), ep('10.0.0.12')]);
});

t.test('a port reference named like an Object.prototype property is unresolved, not a server list', async (t) => {
  const spec = JSON.stringify({ backends: { blue: { service: 'shop/web-blue', port: 'constructor' } } });
  const d = buildDesired(etcd({ 'vhosts/a.example.com/spec': spec }), [SHOP]);
  t.ok(Array.isArray(d.vhosts[0]?.backends[0]?.servers), 'servers is an array');
  t.strictSame(d.vhosts[0]?.backends[0]?.servers, []);
  t.strictSame(d.problems.map((p) => p.code), ['SERVICE_UNRESOLVED']);
});

t.test('a source port named "constructor" (a valid Kubernetes port name) does not break the build', async (t) => {
  const src = services({ 'shop/web-blue': { constructor: [ep('10.0.0.1')], http: [ep('10.0.0.1')] } });
  let d: ReturnType<typeof buildDesired> | null = null;
  t.doesNotThrow(() => {
    d = buildDesired(etcd({ 'vhosts/a.example.com/spec': JSON.stringify({ backends: { blue: { service: 'shop/web-blue', port: 'http' } } }) }), [src]);
  });
  t.strictSame((d as ReturnType<typeof buildDesired> | null)?.vhosts.map((v) => v.host), ['a.example.com']);
});

t.test('endpoints from two sources are merged, deduplicated and sorted', async (t) => {
  const a = services({ 'shop/web-blue': { http: [ep('10.0.0.3'), ep('10.0.0.1'), ep('FD00::1'), ep('10.0.0.1', 8081)] } }, [
    { code: 'ENDPOINT_INVALID', source: 'a', message: 'x' },
  ]);
  const b = services({ 'shop/web-blue': { http: [ep('10.0.0.2'), ep('10.0.0.1'), ep('fd00::1')], admin: [ep('10.0.0.9', 9000)] } }, [
    { code: 'STATIC_FILE_INVALID', source: 'b', message: 'y' },
  ]);
  const merged = mergeServices([a, b]);
  t.strictSame([...merged.keys()], ['shop/web-blue']);
  t.same({ ...merged.get('shop/web-blue')?.ports }, {
    http: [ep('10.0.0.1'), ep('10.0.0.1', 8081), ep('10.0.0.2'), ep('10.0.0.3'), ep('fd00::1')],
    admin: [ep('10.0.0.9', 9000)],
  });
  const spec = JSON.stringify({ backends: { blue: { service: 'shop/web-blue', port: 'http' } } });
  const d = buildDesired(etcd({ 'vhosts/a.example.com/spec': spec }), [a, b]);
  t.strictSame(d.vhosts[0]?.backends[0]?.servers, [ep('10.0.0.1'), ep('10.0.0.1', 8081), ep('10.0.0.2'), ep('10.0.0.3'), ep('fd00::1')]);
  t.strictSame(d.problems.map((p) => p.code), ['ENDPOINT_INVALID', 'STATIC_FILE_INVALID'], 'source problems are passed through');
});

t.test('sortEndpoints orders by address then port', async (t) => {
  t.strictSame(sortEndpoints([ep('10.0.0.1', 90), ep('10.0.0.1', 80), ep('10.0.0.1', 80), ep('1.0.0.1', 100)]), [
    ep('1.0.0.1', 100),
    ep('10.0.0.1', 80),
    ep('10.0.0.1', 90),
  ]);
  t.strictSame(sortEndpoints([]), []);
});

t.test('same input in a different key order gives a deep-equal result', async (t) => {
  const keys: Record<string, EtcdEntry> = {
    'vhosts/a.example.com/spec': { value: BLUE_GREEN, modRevision: 3 },
    'vhosts/a.example.com/active': { value: 'green', modRevision: 4 },
    'vhosts/*.example.com/spec': { value: BLUE_GREEN, modRevision: 5 },
    'vhosts/b.example.com/spec': { value: '{', modRevision: 6 },
    'vhosts/c.example.com/spec': { value: JSON.stringify({ backends: { x: { service: 'shop/missing', port: 'http' } } }), modRevision: 7 },
    'vhosts/d.example.com/spec': { value: BLUE_GREEN, modRevision: 8 },
    'vhosts/d.example.com/active': { value: 'purple', modRevision: 9 },
  };
  const reversed = Object.fromEntries(Object.entries(keys).reverse());
  const src1 = services({
    'shop/web-blue': { http: [ep('10.0.0.2'), ep('10.0.0.1')] },
    'shop/web-green': { http: [ep('10.0.1.2'), ep('10.0.1.1')] },
  });
  const src2 = services({
    'shop/web-green': { http: [ep('10.0.1.1'), ep('10.0.1.2')] },
    'shop/web-blue': { http: [ep('10.0.0.1'), ep('10.0.0.2')] },
  });
  const d1 = buildDesired({ prefix: PREFIX, revision: 10, entries: keys }, [src1]);
  const d2 = buildDesired({ prefix: PREFIX, revision: 10, entries: reversed }, [src2]);
  t.strictSame(d1, d2);
  t.strictSame(JSON.stringify(d1), JSON.stringify(d2), 'even the serialisation is identical');
  t.strictSame(d1.vhosts.map((v) => v.host), ['*.example.com', 'a.example.com', 'c.example.com']);
  t.strictSame(d1.problems.map((p) => [p.code, p.host]), [
    ['SPEC_INVALID', 'b.example.com'],
    ['SERVICE_UNRESOLVED', 'c.example.com'],
    ['ACTIVE_INVALID', 'd.example.com'],
  ]);
});

t.test('problems about host keys do not depend on key order', async (t) => {
  const keys: Record<string, EtcdEntry> = {
    'vhosts/a_b/spec': { value: BLUE_GREEN, modRevision: 1 },
    'vhosts/c d/spec': { value: BLUE_GREEN, modRevision: 2 },
  };
  const d1 = buildDesired({ prefix: PREFIX, revision: 10, entries: keys }, []);
  const d2 = buildDesired({ prefix: PREFIX, revision: 10, entries: Object.fromEntries(Object.entries(keys).reverse()) }, []);
  t.strictSame(d1, d2);
});

t.test('two keys that differ only in case: the same one wins whatever the key order', async (t) => {
  const keys: Record<string, EtcdEntry> = {
    'vhosts/a.example.com/spec': { value: JSON.stringify({ backends: { blue: { service: 'shop/web-blue', port: 'http' } } }), modRevision: 1 },
    'vhosts/A.example.com/spec': { value: JSON.stringify({ backends: { green: { service: 'shop/web-green', port: 'http' } } }), modRevision: 2 },
  };
  const d1 = buildDesired({ prefix: PREFIX, revision: 10, entries: keys }, [SHOP]);
  const d2 = buildDesired({ prefix: PREFIX, revision: 10, entries: Object.fromEntries(Object.entries(keys).reverse()) }, [SHOP]);
  t.strictSame(d1.vhosts, d2.vhosts);
});

t.test('a duplicate-by-case key is reported as HOST_INVALID', async (t) => {
  const d = buildDesired(
    etcd({ 'vhosts/a.example.com/spec': BLUE_GREEN, 'vhosts/A.example.com/spec': BLUE_GREEN }),
    [SHOP],
  );
  t.strictSame(d.vhosts.map((v) => v.host), ['a.example.com']);
  t.strictSame(d.problems, [
    {
      code: 'HOST_INVALID',
      host: 'a.example.com',
      source: 'etcd key /haproxy-sync/vhosts/A.example.com/spec',
      message: 'duplicates /haproxy-sync/vhosts/a.example.com/spec once lower-cased; ignored',
    },
  ]);
});

t.test('a spec whose service carries a newline and a server line is rejected', async (t) => {
  const evil = JSON.stringify({ backends: { blue: { service: 'shop/web-blue\nserver evil 1.2.3.4:80', port: 'http' } } });
  const d = buildDesired(etcd({ 'vhosts/a.example.com/spec': evil, 'vhosts/b.example.com/spec': BLUE_GREEN }), [SHOP]);
  t.strictSame(d.vhosts.map((v) => v.host), ['b.example.com']);
  t.strictSame(d.problems, [
    {
      code: 'SPEC_INVALID',
      host: 'a.example.com',
      source: 'etcd key /haproxy-sync/vhosts/a.example.com/spec',
      message: 'backends.blue.service: service "shop/web-blue\\nserver evil 1.2.3.4:80" must be "namespace/name" (lower-case DNS labels)',
    },
  ]);
  t.notMatch(JSON.stringify(d.vhosts), /evil/);
});

t.test('empty snapshots give an empty state', async (t) => {
  t.strictSame(buildDesired({ prefix: PREFIX, revision: 0, entries: {} }, []), { revision: 0, vhosts: [], problems: [], lastGood: {} });
});
