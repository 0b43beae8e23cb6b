// The vhost spec as stored in etcd: strict JSON schema, every value validated.
import t from 'tap';
import { parseSpec } from '../../src/core/spec.ts';

const DESIGN_EXAMPLE = `{
  "backends": {
    "blue":  {"service": "shop/web-blue",  "port": "http"},
    "green": {"service": "shop/web-green", "port": "http"}
  },
  "default": "blue",
  "health": {"path": "/healthz", "minReady": 1},
  "balance": "roundrobin"
}`;

const one = { blue: { service: 'shop/web-blue', port: 'http' } };
const two = { ...one, green: { service: 'shop/web-green', port: 'http' } };
const parse = (value: unknown): ReturnType<typeof parseSpec> => parseSpec(JSON.stringify(value));

t.test('the DESIGN example parses', async (t) => {
  t.strictSame(parseSpec(DESIGN_EXAMPLE), {
    backends: {
      blue: { service: 'shop/web-blue', port: 'http' },
      green: { service: 'shop/web-green', port: 'http' },
    },
    default: 'blue',
    health: { path: '/healthz', minReady: 1 },
    balance: 'roundrobin',
  });
});

t.test('defaults: one backend needs no default; health and balance are optional', async (t) => {
  t.strictSame(parse({ backends: one }), {
    backends: one,
    default: 'blue',
    health: { path: null, minReady: 1 },
    balance: 'roundrobin',
  });
  t.strictSame(parse({ backends: one, health: {} }), { backends: one, default: 'blue', health: { path: null, minReady: 1 }, balance: 'roundrobin' });
  t.strictSame(parse({ backends: two, default: 'green', health: { minReady: 0 } }), {
    backends: two,
    default: 'green',
    health: { path: null, minReady: 0 },
    balance: 'roundrobin',
  });
});

t.test('several backends without default: the default is required', async (t) => {
  t.equal(parse({ backends: two }), 'default: must be a string');
});

t.test('unknown fields are rejected with the field named', async (t) => {
  t.equal(parse({ backends: one, helth: { path: '/' } }), 'helth: unknown field (allowed: backends, default, health, balance, tls, redirect, hsts)');
  t.equal(
    parse({ backends: { blue: { serivce: 'shop/web', port: 'http' } } }),
    'backends.blue.serivce: unknown field (allowed: service, port)',
  );
  t.equal(parse({ backends: one, health: { path: '/', minready: 1 } }), 'health.minready: unknown field (allowed: path, minReady)');
});

t.test('structure errors', async (t) => {
  t.equal(parse([]), '(spec): must be an object');
  t.equal(parse(null), '(spec): must be an object');
  t.equal(parse('blue'), '(spec): must be an object');
  t.equal(parse({}), 'backends: is required');
  t.equal(parse({ backends: [] }), 'backends: must be an object');
  t.equal(parse({ backends: {} }), 'backends: must name at least one colour');
  const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, { service: 'a/b', port: 'http' }]));
  t.equal(parse({ backends: many, default: 'c0' }), 'backends: at most 16 colours');
  t.equal(parse({ backends: { blue: 'shop/web' } }), 'backends.blue: must be an object');
  t.equal(parse({ backends: { blue: { port: 'http' } } }), 'backends.blue.service: must be a string');
  t.equal(parse({ backends: { blue: { service: 'shop/web' } } }), 'backends.blue.port: must be a string');
  t.equal(parse({ backends: one, health: 'yes' }), 'health: must be an object');
});

t.test('default must be one of the backends', async (t) => {
  t.equal(parse({ backends: two, default: 'red' }), 'default: "red" is not one of the backends (blue, green)');
  t.equal(parse({ backends: one, default: 'green' }), 'default: "green" is not one of the backends (blue)');
  t.equal(parse({ backends: two, default: 'Blue' }), 'default: colour "Blue" must match [a-z0-9][a-z0-9-]{0,31}');
  t.equal(parse({ backends: two, default: 1 }), 'default: must be a string');
});

t.test('bad colour names', async (t) => {
  for (const colour of ['Blue', 'bl ue', 'blue\n', '-blue', 'blue_1', '']) {
    t.equal(
      parse({ backends: { [colour]: { service: 'shop/web', port: 'http' } }, default: colour }),
      `backends: colour "${JSON.stringify(colour).slice(1, -1)}" must match [a-z0-9][a-z0-9-]{0,31}`,
      JSON.stringify(colour),
    );
  }
});

t.test('service refs with newline, space or "#" are rejected', async (t) => {
  for (const service of ['shop/web\nserver evil 1.2.3.4:80', 'shop/web blue', 'shop/web#x', 'shop', 'Shop/web']) {
    t.equal(
      parse({ backends: { blue: { service, port: 'http' } } }),
      `backends.blue.service: service "${JSON.stringify(service).slice(1, -1)}" must be "namespace/name" (lower-case DNS labels)`,
      JSON.stringify(service),
    );
  }
});

t.test('ports: names, numeric strings and JSON numbers', async (t) => {
  const port = (p: unknown): ReturnType<typeof parseSpec> => parse({ backends: { blue: { service: 'shop/web', port: p } } });
  const portOf = (r: ReturnType<typeof parseSpec>): string | undefined => (typeof r === 'string' ? r : r.backends['blue']?.port);
  t.equal(portOf(port(8080)), '8080', 'a JSON number becomes its decimal string');
  t.equal(portOf(port('8080')), '8080');
  t.equal(portOf(port('http')), 'http');
  t.equal(port(0), 'backends.blue.port: port 0 is not a number 1-65535');
  t.equal(port(65536), 'backends.blue.port: port 65536 is not a number 1-65535');
  t.equal(port(80.5), 'backends.blue.port: port "80.5" must be a port name or a number 1-65535');
  t.equal(port(-1), 'backends.blue.port: port "-1" must be a port name or a number 1-65535');
  t.equal(port('ht tp'), 'backends.blue.port: port "ht tp" must be a port name or a number 1-65535');
  t.equal(port('http\n'), 'backends.blue.port: port "http\\n" must be a port name or a number 1-65535');
  t.equal(port(true), 'backends.blue.port: must be a string');
  t.equal(port(null), 'backends.blue.port: must be a string');
});

t.test('health.minReady bounds', async (t) => {
  const minReady = (m: unknown): ReturnType<typeof parseSpec> => parse({ backends: one, health: { minReady: m } });
  const ok = (r: ReturnType<typeof parseSpec>): number | string => (typeof r === 'string' ? r : r.health.minReady);
  t.equal(ok(minReady(0)), 0);
  t.equal(ok(minReady(10000)), 10000);
  for (const bad of [-1, 10001, 1.5, '1', true]) {
    t.equal(minReady(bad), 'health.minReady: must be a whole number from 0 to 10000', JSON.stringify(bad));
  }
  t.equal(ok(minReady(null)), 1, 'null means the default');
});

t.test('health.path', async (t) => {
  const path = (p: unknown): ReturnType<typeof parseSpec> => parse({ backends: one, health: { path: p } });
  const ok = (r: ReturnType<typeof parseSpec>): string | null => (typeof r === 'string' ? r : r.health.path);
  t.equal(ok(path('/ready?full=1')), '/ready?full=1');
  t.equal(path('/a b'), 'health.path: health path "/a b" must start with "/" and hold no spaces, quotes or "#"');
  t.equal(path('/a"b'), 'health.path: health path "/a\\"b" must start with "/" and hold no spaces, quotes or "#"');
  t.equal(path('/a#b'), 'health.path: health path "/a#b" must start with "/" and hold no spaces, quotes or "#"');
  t.equal(path('/a\nb'), 'health.path: health path "/a\\nb" must start with "/" and hold no spaces, quotes or "#"');
  t.equal(path('healthz'), 'health.path: health path "healthz" must start with "/" and hold no spaces, quotes or "#"');
  t.equal(path(1), 'health.path: must be a string');
});

t.test('balance is one of the known algorithms', async (t) => {
  for (const b of ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random'] as const) {
    const r = parse({ backends: one, balance: b });
    t.equal(typeof r === 'string' ? r : r.balance, b);
  }
  for (const b of ['RoundRobin', 'uri', 'roundrobin ', 'leastconn\nserver x', 1, null]) {
    t.equal(parse({ backends: one, balance: b }), 'balance: must be one of roundrobin, static-rr, leastconn, first, source, random', JSON.stringify(b));
  }
});

t.test('invalid JSON', async (t) => {
  t.match(parseSpec('{'), /^not valid JSON \(.+\)$/);
  t.match(parseSpec(''), /^not valid JSON \(.+\)$/);
  t.match(parseSpec('{"backends": {}'), /^not valid JSON \(/);
  t.match(parseSpec("{'backends': {}}"), /^not valid JSON \(/);
});

t.test('a parsed spec lists backends in colour order whatever the JSON order', async (t) => {
  const a = parseSpec('{"backends":{"green":{"service":"a/g","port":"http"},"blue":{"service":"a/b","port":"http"}},"default":"blue"}');
  const b = parseSpec('{"default":"blue","backends":{"blue":{"service":"a/b","port":"http"},"green":{"service":"a/g","port":"http"}}}');
  t.strictSame(a, b);
  t.strictSame(typeof a === 'string' ? a : Object.keys(a.backends), ['blue', 'green']);
});

t.test('tls names a Secret or a bare file; redirect and hsts need it', async (t) => {
  t.strictSame(parse({ backends: one, tls: { secret: 'shop/shop-tls' }, redirect: true, hsts: 31536000 }), {
    backends: one, default: 'blue', health: { path: null, minReady: 1 }, balance: 'roundrobin',
    tls: { kind: 'secret', namespace: 'shop', name: 'shop-tls' }, redirect: true, hsts: 31536000,
  });
  t.match(parse({ backends: one, tls: { file: 'shop.pem' } }), { tls: { kind: 'file', name: 'shop.pem' }, redirect: false });
  t.equal(parse({ backends: one, tls: { file: '../etc/shadow' } }), 'tls.file: "../etc/shadow" must be a bare file name (letters, digits, ".", "_", "-"; no "/" and no "..")');
  t.equal(parse({ backends: one, tls: { file: '.hidden' } }), 'tls.file: ".hidden" must be a bare file name (letters, digits, ".", "_", "-"; no "/" and no "..")');
  t.equal(parse({ backends: one, tls: { secret: 'shop' } }), 'tls.secret: secret "shop" must be "namespace/name" (lower-case DNS labels)');
  t.equal(parse({ backends: one, tls: {} }), 'tls: name exactly one of secret ("namespace/name") or file ("name.pem")');
  t.equal(parse({ backends: one, tls: { secret: 'a/b', file: 'c.pem' } }), 'tls: name exactly one of secret ("namespace/name") or file ("name.pem")');
  t.equal(parse({ backends: one, tls: { secret: 'a/b', key: 'x' } }), 'tls.key: unknown field (allowed: secret, file)');
  t.equal(parse({ backends: one, redirect: true }), 'redirect: needs a tls certificate (HTTPS) to redirect to');
  t.equal(parse({ backends: one, hsts: 10 }), 'hsts: needs a tls certificate (the header is sent over HTTPS only)');
  t.equal(parse({ backends: one, tls: { file: 'a.pem' }, hsts: -1 }), 'hsts: must be a max-age in whole seconds from 0 to 126144000');
  t.equal(parse({ backends: one, tls: { file: 'a.pem' }, redirect: 'yes' }), 'redirect: must be true or false');
});
