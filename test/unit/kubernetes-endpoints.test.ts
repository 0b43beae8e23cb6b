import t from 'tap';
import { buildDesired } from '../../src/core/desired.ts';
import type { EtcdSnapshot } from '../../src/core/model.ts';
import {
  servicesFromEndpoints,
  servicesFromSlices,
  type EndpointSliceObject,
  type EndpointsObject,
  type ServiceObject,
} from '../../src/sources/kubernetes-endpoints.ts';
import { endpointSlice, endpoints, service } from '../fixtures/fake-apiserver.ts';

// The fixture builders make objects exactly as the API server sends them.
const svc = (...args: Parameters<typeof service>): ServiceObject => service(...args) as ServiceObject;
const slice = (...args: Parameters<typeof endpointSlice>): EndpointSliceObject => endpointSlice(...args) as EndpointSliceObject;
const eps = (...args: Parameters<typeof endpoints>): EndpointsObject => endpoints(...args) as EndpointsObject;

const web = svc('shop', 'web', [{ name: 'http', port: 80, targetPort: 'http' }]);

t.test('only ready endpoints: not-ready and terminating ones are out, a missing condition counts as ready', async (t) => {
  const s = slice('shop', 'web-1', 'web', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false }, { ip: '10.0.0.3', terminating: true }, { ip: '10.0.0.4', ready: true, terminating: true }], [{ name: 'http', port: 8080 }]);
  const unknown = { ...s, metadata: { ...s.metadata, name: 'web-2' }, endpoints: [{ addresses: ['10.0.0.5'] }] };
  const snap = servicesFromSlices([web], [s, unknown]);
  t.same(snap.services['shop/web']?.ports['http'], [
    { address: '10.0.0.1', port: 8080 },
    { address: '10.0.0.5', port: 8080 },
  ]);
  t.same(snap.problems, []);
});

t.test('the target port is the slice port named like the Service port; keyed by name and by number', async (t) => {
  const two = svc('shop', 'web', [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'metrics', port: 9100 }]);
  const s = slice('shop', 'web-1', 'web', [{ ip: '10.0.0.1' }], [{ name: 'metrics', port: 9102 }, { name: 'http', port: 8080 }]);
  const snap = servicesFromSlices([two], [s]);
  const ports = snap.services['shop/web']?.ports;
  t.same(ports?.['http'], [{ address: '10.0.0.1', port: 8080 }]);
  t.same(ports?.['80'], [{ address: '10.0.0.1', port: 8080 }], 'the Service port number finds the same endpoints');
  t.same(ports?.['metrics'], [{ address: '10.0.0.1', port: 9102 }]);
  t.same(ports?.['9100'], [{ address: '10.0.0.1', port: 9102 }]);
  t.same(Object.keys(ports ?? {}).sort(), ['80', '9100', 'http', 'metrics']);
});

t.test('an unnamed single port matches the unnamed slice port, and is keyed by number only', async (t) => {
  const plain = svc('shop', 'plain', [{ port: 80, targetPort: 8080 }]);
  const snap = servicesFromSlices([plain], [slice('shop', 'plain-1', 'plain', [{ ip: '10.0.0.1' }], [{ port: 8080 }])]);
  t.same(snap.services['shop/plain']?.ports, { '80': [{ address: '10.0.0.1', port: 8080 }] });
});

t.test('several slices of one Service merge, each with its own target port; other Services and namespaces stay apart', async (t) => {
  const slices = [
    slice('shop', 'web-a', 'web', [{ ip: '10.0.0.2' }, { ip: '10.0.0.1' }], [{ name: 'http', port: 8080 }]),
    slice('shop', 'web-b', 'web', [{ ip: '10.0.0.3' }], [{ name: 'http', port: 8081 }]),
    slice('shop', 'api-a', 'api', [{ ip: '10.0.9.9' }], [{ name: 'http', port: 8080 }]),
    slice('other', 'web-a', 'web', [{ ip: '10.1.0.1' }], [{ name: 'http', port: 8080 }]),
  ];
  const snap = servicesFromSlices([web, svc('other', 'web', [{ name: 'http', port: 80 }])], slices);
  t.same(snap.services['shop/web']?.ports['http'], [
    { address: '10.0.0.1', port: 8080 },
    { address: '10.0.0.2', port: 8080 },
    { address: '10.0.0.3', port: 8081 },
  ]);
  t.same(snap.services['other/web']?.ports['http'], [{ address: '10.1.0.1', port: 8080 }]);
  t.notOk(snap.services['shop/api'], 'slices of a Service that does not exist make no entry');
});

t.test('duplicates are removed and the order is stable whatever order objects arrive in', async (t) => {
  const a = slice('shop', 'web-a', 'web', [{ ip: '10.0.0.9' }, { ip: '10.0.0.1' }, { ip: 'FD00::2' }], [{ name: 'http', port: 8080 }], 'IPv6');
  const v4 = slice('shop', 'web-v4', 'web', [{ ip: '10.0.0.9' }, { ip: '10.0.0.1' }, { ip: '10.0.0.9' }], [{ name: 'http', port: 8080 }]);
  const v6 = slice('shop', 'web-v6', 'web', [{ ip: 'fd00::2' }, { ip: 'FD00::1' }], [{ name: 'http', port: 8080 }], 'IPv6');
  const copy = slice('shop', 'web-v4-copy', 'web', [{ ip: '10.0.0.1' }], [{ name: 'http', port: 8080 }]);
  const forward = servicesFromSlices([web], [v4, v6, copy]);
  const backward = servicesFromSlices([web], [copy, v6, v4]);
  const expected = [
    { address: '10.0.0.1', port: 8080 },
    { address: '10.0.0.9', port: 8080 },
    { address: 'fd00::1', port: 8080 },
    { address: 'fd00::2', port: 8080 },
  ];
  t.same(forward.services['shop/web']?.ports['http'], expected, 'IPv4 and IPv6, deduplicated, sorted');
  t.same(JSON.stringify(backward), JSON.stringify(forward), 'byte-identical for any input order');
  const mixed = servicesFromSlices([web], [a]);
  t.same(mixed.services['shop/web']?.ports['http'], [{ address: 'fd00::2', port: 8080 }], 'IPv4 addresses in an IPv6 slice are refused');
  t.match(mixed.problems, [
    { code: 'ENDPOINT_INVALID', source: 'Kubernetes EndpointSlice shop/web-a endpoints[0]', message: '"10.0.0.9" is not an IPv6 address; left out' },
    { code: 'ENDPOINT_INVALID', source: 'Kubernetes EndpointSlice shop/web-a endpoints[1]', message: '"10.0.0.1" is not an IPv6 address; left out' },
  ]);
});

t.test('bad addresses and ports never pass: each is a problem naming the object', async (t) => {
  const evil = slice('shop', 'web-evil', 'web', [{ ip: '10.0.0.1\n    server x 6.6.6.6:80' }, { ip: '10.0.0.2' }], [{ name: 'http', port: 8080 }]);
  const badPort = slice('shop', 'web-port', 'web', [{ ip: '10.0.0.3' }], [{ name: 'http', port: 70000 }]);
  const fqdn = slice('shop', 'web-fqdn', 'web', [{ ip: 'pod.example.com' }], [{ name: 'http', port: 8080 }], 'FQDN');
  const snap = servicesFromSlices([web], [evil, badPort, fqdn]);
  t.same(snap.services['shop/web']?.ports['http'], [{ address: '10.0.0.2', port: 8080 }]);
  t.match(snap.problems, [
    { code: 'ENDPOINT_INVALID', source: 'Kubernetes EndpointSlice shop/web-evil endpoints[0]', message: /is not an IPv4 address/ },
    { code: 'ENDPOINT_INVALID', source: 'Kubernetes EndpointSlice shop/web-fqdn', message: /addressType "FQDN" is not supported/ },
    { code: 'SERVICE_UNRESOLVED', source: 'Kubernetes EndpointSlice shop/web-port', message: /no valid port named "http" for Service shop\/web/ },
  ]);
  t.notMatch(JSON.stringify(snap.problems), /\n/, 'problem messages stay on one line');
});

t.test('a port the slices cannot resolve is left out, so the vhost is reported instead of sent to a wrong port', async (t) => {
  const s = slice('shop', 'web-1', 'web', [{ ip: '10.0.0.1' }], [{ name: 'other', port: 9999 }]);
  const snap = servicesFromSlices([web], [s]);
  t.same(snap.services['shop/web']?.ports, {}, 'no "http" and no "80" key');
  t.match(snap.problems, [{ code: 'SERVICE_UNRESOLVED', source: 'Kubernetes EndpointSlice shop/web-1', message: /no valid port named "http".*other=9999/ }]);

  const etcd: EtcdSnapshot = {
    prefix: '/haproxy-sync/',
    revision: 1,
    entries: {
      'vhosts/shop.example.com/spec': { value: JSON.stringify({ backends: { blue: { service: 'shop/web', port: 'http' } } }), modRevision: 1 },
      'vhosts/missing.example.com/spec': { value: JSON.stringify({ backends: { blue: { service: 'shop/nope', port: 'http' } } }), modRevision: 1 },
      'vhosts/udp.example.com/spec': { value: JSON.stringify({ backends: { blue: { service: 'shop/dns', port: 'dns' } } }), modRevision: 1 },
    },
  };
  const dns = svc('shop', 'dns', [{ name: 'dns', port: 53, protocol: 'UDP' }]);
  const desired = buildDesired(etcd, [servicesFromSlices([web, dns], [s, slice('shop', 'dns-1', 'dns', [{ ip: '10.0.0.7' }], [{ name: 'dns', port: 53, protocol: 'UDP' }])])]);
  const byHost = (h: string) => desired.problems.find((p) => p.host === h);
  t.match(byHost('shop.example.com'), { code: 'SERVICE_UNRESOLVED', message: 'service shop/web has no port "http" (ports: none)' });
  t.match(byHost('missing.example.com'), { code: 'SERVICE_UNRESOLVED', message: /shop\/nope is not known/ });
  t.match(byHost('udp.example.com'), { code: 'SERVICE_UNRESOLVED', message: /has no port "dns"/, }, 'UDP ports cannot be served over HTTP');
  t.same(desired.vhosts.flatMap((v) => v.backends.flatMap((b) => b.servers)), [], 'nothing is rendered with a guessed port');
});

t.test('a Service with no ready endpoints resolves its ports to no servers, without a problem', async (t) => {
  const snap = servicesFromSlices([web], [slice('shop', 'web-1', 'web', [{ ip: '10.0.0.1', ready: false }], [{ name: 'http', port: 8080 }])]);
  t.same(snap.services['shop/web']?.ports, { http: [], '80': [] });
  t.same(servicesFromSlices([web], []).services['shop/web']?.ports, { http: [], '80': [] }, 'no slices yet: the same');
  t.same(snap.problems, []);
});

t.test('slices without the service-name label belong to no Service', async (t) => {
  const s = slice('shop', 'web-1', 'web', [{ ip: '10.0.0.1' }], [{ name: 'http', port: 8080 }]);
  const unlabelled = { ...s, metadata: { ...s.metadata, labels: {} } };
  t.same(servicesFromSlices([web], [unlabelled]).services['shop/web']?.ports['http'], []);
});

t.test('Endpoints mode gives the same result as slices for the same pods', async (t) => {
  const services = [svc('shop', 'web', [{ name: 'http', port: 80 }, { name: 'admin', port: 81 }]), svc('shop', 'v6', [{ name: 'http', port: 80 }])];
  const slices = [
    slice('shop', 'web-a', 'web', [{ ip: '10.0.0.2' }, { ip: '10.0.0.1' }, { ip: '10.0.0.3', ready: false }], [{ name: 'http', port: 8080 }, { name: 'admin', port: 9000 }]),
    slice('shop', 'web-b', 'web', [{ ip: '10.0.0.4' }], [{ name: 'http', port: 8081 }, { name: 'admin', port: 9000 }]),
    slice('shop', 'v6-a', 'v6', [{ ip: 'fd00::1' }], [{ name: 'http', port: 8080 }], 'IPv6'),
  ];
  const objects = [
    eps('shop', 'web', [
      { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], notReadyAddresses: [{ ip: '10.0.0.3' }], ports: [{ name: 'admin', port: 9000 }, { name: 'http', port: 8080 }] },
      { addresses: [{ ip: '10.0.0.4' }], ports: [{ name: 'http', port: 8081 }, { name: 'admin', port: 9000 }] },
    ]),
    eps('shop', 'v6', [{ addresses: [{ ip: 'fd00::1' }], ports: [{ name: 'http', port: 8080 }] }]),
  ];
  const fromSlices = servicesFromSlices(services, slices);
  const fromEndpoints = servicesFromEndpoints(services, objects);
  t.same(fromEndpoints, fromSlices);
  t.equal(fromSlices.services['shop/web']?.ports['http']?.length, 3);

  const bad = servicesFromEndpoints(services, [eps('shop', 'web', [{ addresses: [{ ip: 'not-an-ip' }], ports: [{ name: 'http', port: 8080 }] }])]);
  t.match(bad.problems, [{ code: 'ENDPOINT_INVALID', source: 'Kubernetes Endpoints shop/web subsets[0].addresses[0]' }]);
});

t.test('malformed objects from the wire do not throw', async (t) => {
  const junk = [
    { metadata: { name: 'x', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: null, ports: null },
    { metadata: { name: 'y', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: null }], ports: [{ name: 'http', port: 8080 }] },
    { metadata: { name: 'z', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: [42] }], ports: [{ name: 'http', port: '8080' }] },
  ] as unknown as EndpointSliceObject[];
  const snap = servicesFromSlices([web, { metadata: { name: 'bare', namespace: 'shop' } }], junk);
  t.same(snap.services['shop/bare']?.ports, {});
  t.same(snap.services['shop/web']?.ports['http'] ?? [], []);
  t.equal(snap.problems.filter((p) => p.code === 'ENDPOINT_INVALID').length, 2);
});
