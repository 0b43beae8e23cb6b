// The static services file parser: strict, and every message names the bad entry.
import t from 'tap';
import { keepUnchangedServices, parseServicesFile } from '../../src/sources/static-file.ts';

t.test('the DESIGN example', async (t) => {
  const parsed = parseServicesFile(`
services:
  shop/web-blue:
    http: ["10.0.0.11:8080", "10.0.0.12:8080"]
`);
  t.strictSame(parsed, {
    'shop/web-blue': {
      ports: {
        http: [
          { address: '10.0.0.11', port: 8080 },
          { address: '10.0.0.12', port: 8080 },
        ],
      },
    },
  });
});

t.test('several services and ports, numbered ports, IPv6', async (t) => {
  const parsed = parseServicesFile(`
services:
  shop/web-blue:
    http: ["10.0.0.11:8080"]
    "8080": ["10.0.0.11:8080"]
    admin: []
  shop/web-green:
    http:
      - "[fd00::1]:8080"
      - "[FD00::2]:8080"
`);
  t.strictSame(parsed, {
    'shop/web-blue': {
      ports: {
        http: [{ address: '10.0.0.11', port: 8080 }],
        '8080': [{ address: '10.0.0.11', port: 8080 }],
        admin: [],
      },
    },
    'shop/web-green': {
      ports: {
        http: [
          { address: 'fd00::1', port: 8080 },
          { address: 'fd00::2', port: 8080 },
        ],
      },
    },
  });
});

t.test('empty documents mean no services', async (t) => {
  t.strictSame(parseServicesFile(''), {});
  t.strictSame(parseServicesFile('# nothing yet\n'), {});
  t.strictSame(parseServicesFile('services:\n'), {});
  t.strictSame(parseServicesFile('services: {}\n'), {});
});

t.test('bad YAML', async (t) => {
  t.match(parseServicesFile('services: [\n'), /^not valid YAML \(.+\)$/);
  t.match(parseServicesFile('services:\n  a/b:\n    http: ["1.2.3.4:80"]\n   bad: x\n'), /^not valid YAML \(/);
  t.notMatch(parseServicesFile('services: [\n') as string, /\n/, 'one line');
});

t.test('the top level must be a mapping with only "services"', async (t) => {
  t.equal(parseServicesFile('servces:\n  a/b: {}\n'), 'servces: unknown field (allowed: services)');
  t.equal(parseServicesFile('services: {}\nextra: 1\n'), 'extra: unknown field (allowed: services)');
  t.equal(parseServicesFile('- a\n'), 'must be a mapping with a "services" key');
  t.equal(parseServicesFile('just a string\n'), 'must be a mapping with a "services" key');
  t.equal(parseServicesFile('services: [a]\n'), 'services: must be a mapping of "namespace/name" to ports');
});

t.test('a bad service ref', async (t) => {
  t.equal(parseServicesFile('services:\n  web-blue:\n    http: []\n'), 'services: service "web-blue" must be "namespace/name" (lower-case DNS labels)');
  t.equal(parseServicesFile('services:\n  Shop/web:\n    http: []\n'), 'services: service "Shop/web" must be "namespace/name" (lower-case DNS labels)');
  t.equal(parseServicesFile('services:\n  "shop/web blue":\n    http: []\n'), 'services: service "shop/web blue" must be "namespace/name" (lower-case DNS labels)');
  t.equal(parseServicesFile('services:\n  shop/web: ["1.2.3.4:80"]\n'), 'services.shop/web: must map port names to lists of "ip:port"');
});

t.test('a bad port', async (t) => {
  t.equal(parseServicesFile('services:\n  shop/web:\n    HTTP: []\n'), 'services.shop/web.HTTP: port "HTTP" must be a port name or a number 1-65535');
  t.equal(parseServicesFile('services:\n  shop/web:\n    "0": []\n'), 'services.shop/web.0: port 0 is not a number 1-65535');
  t.equal(parseServicesFile('services:\n  shop/web:\n    "65536": []\n'), 'services.shop/web.65536: port 65536 is not a number 1-65535');
  t.equal(parseServicesFile('services:\n  shop/web:\n    http: "1.2.3.4:80"\n'), 'services.shop/web.http: must be a list of "ip:port"');
});

t.test('a bad address names services.<ref>.<port>[i]', async (t) => {
  t.equal(
    parseServicesFile('services:\n  shop/web-blue:\n    http: ["10.0.0.11:8080", "10.0.0.300:8080"]\n'),
    'services.shop/web-blue.http[1]: "10.0.0.300" is not an IPv4 or IPv6 address',
  );
  t.equal(parseServicesFile('services:\n  shop/web:\n    http: ["10.0.0.1"]\n'), 'services.shop/web.http[0]: "10.0.0.1" must be "ip:port" or "[ipv6]:port"');
  t.equal(parseServicesFile('services:\n  shop/web:\n    http: ["10.0.0.1:0"]\n'), 'services.shop/web.http[0]: port 0 is not a number 1-65535');
  t.equal(parseServicesFile('services:\n  shop/web:\n    http: ["fd00::1:8080"]\n'), 'services.shop/web.http[0]: "fd00::1:8080" must be "ip:port" or "[ipv6]:port"');
  t.equal(parseServicesFile('services:\n  shop/web:\n    http: ["pod-1.local:8080"]\n'), 'services.shop/web.http[0]: "pod-1.local" is not an IPv4 or IPv6 address');
  t.equal(parseServicesFile('services:\n  shop/web:\n    http: [8080]\n'), 'services.shop/web.http[0]: must be a string "ip:port"');
  t.equal(
    parseServicesFile('services:\n  shop/web:\n    http: ["10.0.0.1:80\\nserver evil 1.2.3.4:80"]\n'),
    'services.shop/web.http[0]: "10.0.0.1:80\\nserver evil 1.2.3.4:80" must be "ip:port" or "[ipv6]:port"',
  );
});

t.test('IPv6 in brackets', async (t) => {
  t.strictSame(parseServicesFile('services:\n  shop/web:\n    http: ["[fd00::1]:8080"]\n'), {
    'shop/web': { ports: { http: [{ address: 'fd00::1', port: 8080 }] } },
  });
  t.equal(parseServicesFile('services:\n  shop/web:\n    http: ["[fd00::g]:8080"]\n'), 'services.shop/web.http[0]: "fd00::g" is not an IPv4 or IPv6 address');
});

t.test('re-read, each service whose content did not change keeps its object', async (t) => {
  const parse = (text: string) => {
    const parsed = parseServicesFile(text);
    if (typeof parsed === 'string') throw new Error(parsed);
    return parsed;
  };
  const first = parse('services:\n  shop/web: {http: ["10.0.0.1:8080"]}\n  shop/api: {http: ["10.0.0.2:8080"]}\n  shop/old: {http: []}\n');
  const edited = parse('services:\n  shop/api: {http: ["10.0.0.2:8080"]}\n  shop/web: {http: ["10.0.0.1:8080", "10.0.0.3:8080"]}\n  shop/new: {http: []}\n');
  const kept = keepUnchangedServices(first, edited);
  t.same(kept, edited, 'the content read');
  t.same(Object.keys(kept), ['shop/api', 'shop/web', 'shop/new'], 'in the order of the file');
  t.equal(kept['shop/api'], first['shop/api'], 'unchanged: the same object');
  t.not(kept['shop/web'], first['shop/web'], 'changed: the new object');
  t.equal(keepUnchangedServices(null, edited), edited, 'nothing read before: the content read');
  const reordered = keepUnchangedServices(first, parse('services:\n  shop/web: {http: ["10.0.0.1:8080"], admin: ["10.0.0.1:9000"]}\n'));
  t.not(reordered['shop/web'], first['shop/web'], 'a port added is a change');
});
