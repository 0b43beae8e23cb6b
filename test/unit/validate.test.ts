// Validators that guard every value on its way into haproxy.cfg.
import t from 'tap';
import {
  checkAddress,
  checkColour,
  checkHost,
  checkHttpPath,
  checkPortNumber,
  checkPortRef,
  checkServiceRef,
  isIPv4,
  isIPv6,
  parseHostPort,
  printable,
} from '../../src/core/validate.ts';

const label = (n: number, c = 'a'): string => c.repeat(n);

t.test('checkHost accepts lower-case DNS names and one leading "*."', async (t) => {
  for (const host of [
    'a',
    'example.com',
    'shop.example.com',
    'a-b.c0.example',
    '0.example.com',
    '*.example.com',
    '*.a',
    `${label(63)}.com`,
    // 3 × 63 + 59 + 1 + 4 dots = 253 characters
    [label(63), label(63), label(63), label(59), 'b'].join('.'),
  ]) {
    t.equal(checkHost(host), null, host.length > 40 ? `${host.length}-char host` : host);
  }
  t.equal([label(63), label(63), label(63), label(59), 'b'].join('.').length, 253);
});

t.test('checkHost rejects anything else with a sentence naming the value', async (t) => {
  const bad = [
    'a..b',
    '-a',
    'a-',
    'a.-b.com',
    'a_b',
    'a b',
    'a\nb',
    'a#b',
    'Shop.example.com',
    'EXAMPLE.COM',
    '',
    '.',
    'a.',
    '.a',
    '*',
    '*.',
    '*.*.example.com',
    'a.*.example.com',
    '**.example.com',
    'exa*mple.com',
    'a"b',
    "a'b",
    'a\\b',
    'a/b',
    'a:80',
    `${label(64)}.com`,
  ];
  for (const host of bad) {
    const problem = checkHost(host);
    t.equal(problem, `"${printable(host)}" is not a lower-case DNS name (optionally with one leading "*.")`, JSON.stringify(host));
  }
  const long = [label(63), label(63), label(63), label(60), 'b'].join('.');
  t.equal(long.length, 254);
  t.equal(checkHost(long), 'a host name is at most 253 characters');
});

t.test('checkHost message keeps a newline out of the log line', async (t) => {
  const problem = checkHost('evil\nserver x');
  t.ok(problem);
  t.notMatch(problem ?? '', /\n/);
  t.match(problem ?? '', /evil\\nserver x/);
});

t.test('checkColour', async (t) => {
  for (const c of ['blue', 'green', '0', 'a', 'a-b', 'v2', `a${'-'.repeat(31)}`]) t.equal(checkColour(c), null, c);
  for (const c of ['', '-blue', 'Blue', 'bl ue', 'blue\n', 'bl_ue', 'blue#', 'bl.ue', `a${'b'.repeat(32)}`]) {
    t.equal(checkColour(c), `colour "${printable(c)}" must match [a-z0-9][a-z0-9-]{0,31}`, JSON.stringify(c));
  }
});

t.test('checkServiceRef', async (t) => {
  for (const r of ['shop/web-blue', 'default/kubernetes', 'a/b', `${label(63)}/${label(63)}`]) t.equal(checkServiceRef(r), null, r);
  for (const r of [
    'shop',
    'shop/',
    '/web',
    'shop/web/x',
    'Shop/web',
    'shop/web blue',
    'shop/web\nserver evil 1.2.3.4:80',
    'shop/web#',
    'shop/-web',
    'shop/web-',
    'shop/web.blue',
    `${label(64)}/a`,
    '',
  ]) {
    t.equal(checkServiceRef(r), `service "${printable(r)}" must be "namespace/name" (lower-case DNS labels)`, JSON.stringify(r));
  }
});

t.test('checkPortRef: names up to 15 characters, numbers 1..65535', async (t) => {
  for (const p of ['http', 'https', 'h2c', 'a', 'web-admin', label(15), '1', '80', '8080', '65535']) t.equal(checkPortRef(p), null, p);
  for (const p of ['0', '65536', '99999']) t.equal(checkPortRef(p), `port ${Number(p)} is not a number 1-65535`, p);
  for (const p of [label(16), 'HTTP', 'ht tp', '-http', 'http-', 'ht_tp', 'http#', 'http\n', '', '-1', '8.0']) {
    t.equal(checkPortRef(p), `port "${printable(p)}" must be a port name or a number 1-65535`, JSON.stringify(p));
  }
});

t.test('checkPortRef: an all-digit reference above 5 digits is neither a number nor a name', async (t) => {
  t.not(checkPortRef('123456'), null);
  t.not(checkPortRef('000000'), null);
});

t.test('checkPortNumber', async (t) => {
  t.equal(checkPortNumber(1), null);
  t.equal(checkPortNumber(65535), null);
  t.equal(checkPortNumber(0), 'port 0 is not a number 1-65535');
  t.equal(checkPortNumber(65536), 'port 65536 is not a number 1-65535');
  t.equal(checkPortNumber(80.5), 'port 80.5 is not a number 1-65535');
  t.equal(checkPortNumber(Number.NaN), 'port NaN is not a number 1-65535');
});

t.test('checkHttpPath', async (t) => {
  for (const p of ['/', '/healthz', '/health/ready', '/h?x=1&y=2', '/a%20b', '/~user', `/${label(255)}`]) t.equal(checkHttpPath(p), null, p);
  for (const p of ['', 'healthz', '/health z', '/a"b', "/a'b", '/a#b', '/a\nb', '/a\tb', '/a\\b', `/${label(256)}`]) {
    t.equal(checkHttpPath(p), `health path "${printable(p)}" must start with "/" and hold no spaces, quotes or "#"`, JSON.stringify(p));
  }
});

t.test('isIPv4', async (t) => {
  for (const a of ['0.0.0.0', '1.2.3.4', '10.0.0.11', '255.255.255.255', '127.0.0.1']) t.equal(isIPv4(a), true, a);
  for (const a of ['01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3.256', '1.2.3', '1.2.3.4.5', '1.2.3.', '', 'a.b.c.d', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-1', '1.2.3.4\n', '1.2.3.1000', '::1']) {
    t.equal(isIPv4(a), false, JSON.stringify(a));
  }
});

t.test('isIPv6', async (t) => {
  for (const a of [
    '::',
    '::1',
    'fe80::1',
    'FE80::1',
    'fd00::1',
    '2001:db8::',
    '2001:db8:0:0:0:0:0:1',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7::',
    '::2:3:4:5:6:7:8',
    '::ffff:1.2.3.4',
    '1:2:3:4:5:6:1.2.3.4',
    '::1.2.3.4',
  ]) {
    t.equal(isIPv6(a), true, a);
  }
  for (const a of [
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7',
    ':1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:',
    ':::',
    ':',
    '',
    '12345::1',
    'g::1',
    '::ffff:1.2.3.256',
    '::ffff:01.2.3.4',
    '1.2.3.4',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::1.2.3.4:5',
    'fe80::1%eth0',
    '::1 ',
    '[::1]',
  ]) {
    t.equal(isIPv6(a), false, JSON.stringify(a));
  }
});

t.test('isIPv6: an embedded IPv4 address must be the last part', async (t) => {
  t.equal(isIPv6('1.2.3.4::'), false);
});

t.test('checkAddress', async (t) => {
  t.equal(checkAddress('10.0.0.1'), null);
  t.equal(checkAddress('fd00::1'), null);
  t.equal(checkAddress('10.0.0.300'), '"10.0.0.300" is not an IPv4 or IPv6 address');
  t.equal(checkAddress('pod.local'), '"pod.local" is not an IPv4 or IPv6 address');
});

t.test('parseHostPort', async (t) => {
  t.same(parseHostPort('1.2.3.4:80'), { address: '1.2.3.4', port: 80 });
  t.same(parseHostPort('[::1]:80'), { address: '::1', port: 80 });
  t.same(parseHostPort('[FD00::A]:8080'), { address: 'fd00::a', port: 8080 }, 'IPv6 is lower-cased');
  t.same(parseHostPort('[::ffff:1.2.3.4]:65535'), { address: '::ffff:1.2.3.4', port: 65535 });
  t.equal(parseHostPort('1.2.3.4'), '"1.2.3.4" must be "ip:port" or "[ipv6]:port"', 'missing port');
  t.equal(parseHostPort('1.2.3.4:'), '"1.2.3.4:" must be "ip:port" or "[ipv6]:port"');
  t.equal(parseHostPort('::1:80'), '"::1:80" must be "ip:port" or "[ipv6]:port"', 'IPv6 without brackets');
  t.equal(parseHostPort('[::1]'), '"[::1]" must be "ip:port" or "[ipv6]:port"');
  t.equal(parseHostPort('1.2.3.4:http'), '"1.2.3.4:http" must be "ip:port" or "[ipv6]:port"');
  t.equal(parseHostPort('1.2.3.4:123456'), '"1.2.3.4:123456" must be "ip:port" or "[ipv6]:port"');
  t.equal(parseHostPort('1.2.3.4:80 '), '"1.2.3.4:80 " must be "ip:port" or "[ipv6]:port"');
  t.equal(parseHostPort('1.2.3.4:80\nserver x'), '"1.2.3.4:80\\nserver x" must be "ip:port" or "[ipv6]:port"');
  t.equal(parseHostPort('1.2.3.4:0'), 'port 0 is not a number 1-65535', 'bad port');
  t.equal(parseHostPort('1.2.3.4:65536'), 'port 65536 is not a number 1-65535');
  t.equal(parseHostPort('1.2.3.256:80'), '"1.2.3.256" is not an IPv4 or IPv6 address');
  t.equal(parseHostPort('pod:80'), '"pod" is not an IPv4 or IPv6 address');
  t.equal(parseHostPort('[1::2::3]:80'), '"1::2::3" is not an IPv4 or IPv6 address');
  t.equal(parseHostPort('[1.2.3.4]:80'), '"[1.2.3.4]:80": only IPv6 addresses go in brackets');
});

t.test('printable escapes control characters and shortens long values', async (t) => {
  t.equal(printable('a\nb"c'), 'a\\nb\\"c');
  t.equal(printable('x'.repeat(100)), `${'x'.repeat(80)}…`);
});
