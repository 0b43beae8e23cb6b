// Certificate decisions of the planner and of the desired state: a renewal
// is one set-cert, a certificate added to or taken from a served vhost is an
// add-cert or del-cert with a TLS map change, all without a reload; a
// refused certificate keeps the last good one; redirect changes reload.
import t from 'tap';
import { buildDesired } from '../../src/core/desired.ts';
import type { CertificatesSnapshot, DesiredState, EtcdSnapshot, RenderSettings } from '../../src/core/model.ts';
import { plan, type AppliedState, type Target } from '../../src/core/plan.ts';
import { renderView, templateView } from '../../src/core/render.ts';
import { layoutSlots } from '../../src/core/slots.ts';
import { BUNDLED_TEMPLATES, readTemplates } from '../../src/sources/templates.ts';

const SETTINGS: RenderSettings = { node: 'lb-1', adminSocket: '/run/admin.sock', mapsDir: '/m', bind: [[':80']], spareSlots: 1, tls: { bind: [[':443']], certsDir: '/c' } };
const templates = await readTemplates([BUNDLED_TEMPLATES]);
const NOW = Date.parse('2026-06-01T00:00:00Z');
const DAY = 86400000;

const backends = { blue: { service: 'shop/web', port: 'http' } };
function etcd(specs: Record<string, Record<string, unknown>>): EtcdSnapshot {
  const entries = Object.fromEntries(Object.entries(specs).map(([host, spec]) => [`vhosts/${host}/spec`, { value: JSON.stringify({ backends, ...spec }), modRevision: 1 }]));
  return { prefix: '/p/', revision: 1, entries };
}
function cert(serial: string, names: string[], notAfter = NOW + 30 * DAY): CertificatesSnapshot['certificates'][string] {
  return { source: `certificate file /d/${serial}.pem`, parsed: { pem: `PEM ${serial}\n`, leaf: { serial, notBefore: NOW - DAY, notAfter, subject: `CN=${names[0]}`, issuer: 'CN=ca', names }, chain: [] }, problem: null };
}
function certs(entries: Record<string, CertificatesSnapshot['certificates'][string]>): CertificatesSnapshot {
  return { certificates: entries, secretNamespaces: null, fileDir: '/d' };
}
const services = [{ services: { 'shop/web': { ports: { http: [{ address: '10.0.0.1', port: 80 }] } } }, problems: [] }];

function target(desired: DesiredState): Target {
  const layout = layoutSlots(desired.vhosts.flatMap((v) => v.backends), 1, null);
  return { desired, layout, view: templateView(desired, layout, SETTINGS), templates };
}
function applied(desired: DesiredState): AppliedState {
  const tg = target(desired);
  return { ...tg, rendered: renderView(tg.view, tg.desired, tg.templates) };
}
function desiredOf(specs: Record<string, Record<string, unknown>>, c: CertificatesSnapshot, previous: DesiredState | null = null): DesiredState {
  return buildDesired(etcd(specs), services, {}, 0, { certificates: c, nowMs: NOW, previous });
}

t.test('a renewal is one set-cert; adding and removing certificates are runtime too', async (t) => {
  const one = desiredOf({ 'a.test': { tls: { file: 'a.pem' } }, 'b.test': {} }, certs({ 'file:a.pem': cert('A1', ['a.test']), 'file:b.pem': cert('B1', ['b.test']) }));
  const before = applied(one);
  t.match(before.rendered.certificates, { 'crt-list.txt': '/c/hosts/a.test.pem a.test\n', 'hosts/a.test.pem': 'PEM A1\n' });
  t.match(before.rendered.maps, { 'tls-hosts.map': 'a.test be_a.test_blue\nb.test be_no_vhost\n' });

  const renewed = desiredOf({ 'a.test': { tls: { file: 'a.pem' } }, 'b.test': {} }, certs({ 'file:a.pem': cert('A2', ['a.test']), 'file:b.pem': cert('B1', ['b.test']) }));
  t.strictSame(plan(before, target(renewed)), { mode: 'runtime', reason: 'certificate /c/hosts/a.test.pem ← serial A2', ops: [{ kind: 'set-cert', file: '/c/hosts/a.test.pem', pem: 'PEM A2\n', serial: 'A2' }] });

  const added = desiredOf({ 'a.test': { tls: { file: 'a.pem' } }, 'b.test': { tls: { file: 'b.pem' } } }, certs({ 'file:a.pem': cert('A1', ['a.test']), 'file:b.pem': cert('B1', ['b.test']) }));
  const p = plan(before, target(added));
  t.match(p, { mode: 'runtime', ops: [
    { kind: 'add-cert', file: '/c/hosts/b.test.pem', serial: 'B1', crtList: '/c/crt-list.txt', sni: 'b.test' },
    { kind: 'set-map', map: 'tls-hosts.map', key: 'b.test', value: 'be_b.test_blue' },
  ] });

  const removed = plan(applied(added), target(one));
  t.match(removed, { mode: 'runtime', ops: [
    { kind: 'set-map', map: 'tls-hosts.map', key: 'b.test', value: 'be_no_vhost' },
    { kind: 'del-cert', file: '/c/hosts/b.test.pem', crtList: '/c/crt-list.txt' },
  ] }, 'traffic leaves before the certificate goes');
});

t.test('a refused certificate keeps the last good one and is reported with its source', async (t) => {
  const good = desiredOf({ 'a.test': { tls: { file: 'a.pem' } } }, certs({ 'file:a.pem': cert('A1', ['a.test']) }));
  const expired = desiredOf({ 'a.test': { tls: { file: 'a.pem' } } }, certs({ 'file:a.pem': cert('A2', ['a.test'], NOW - DAY) }), good);
  t.match(expired.vhosts[0]?.tls, { leaf: { serial: 'A1' }, kept: true });
  t.match(expired.problems, [{ code: 'CERTIFICATE_INVALID', host: 'a.test', source: 'certificate file /d/A2.pem', message: /^expired on .* \(serial A2\); the last good certificate \(serial A1\) keeps serving$/ }]);
  t.strictSame(plan(applied(good), target(expired)), { mode: 'noop' }, 'nothing to send');

  const never = desiredOf({ 'a.test': { tls: { file: 'a.pem' } } }, certs({ 'file:a.pem': cert('A2', ['other.test']) }));
  t.equal(never.vhosts[0]?.tls, null, 'without a last good one the vhost is not served over HTTPS');
  t.match(never.problems, [{ code: 'CERTIFICATE_INVALID', message: /does not cover a\.test.*not served over HTTPS until this is fixed/ }]);
  t.equal(never.vhosts.length, 1, 'but the vhost itself stays');

  const missing = desiredOf({ 'a.test': { tls: { secret: 'shop/a' } } }, certs({}));
  t.match(missing.problems, [{ code: 'CERTIFICATE_MISSING', source: '/p/vhosts/a.test/spec (tls)'.replace(/^/, 'etcd key '), message: /no Secrets are read \(set kubernetes\.secretNamespaces\)/ }]);
  const outside = buildDesired(etcd({ 'a.test': { tls: { secret: 'web/a' } } }), services, {}, 0, { certificates: { certificates: {}, secretNamespaces: ['shop'], fileDir: null }, nowMs: NOW, previous: null });
  t.match(outside.problems, [{ code: 'CERTIFICATE_MISSING', message: /namespace web is not in kubernetes\.secretNamespaces \(shop\)/ }]);
});

t.test('redirect and HSTS are rendered per backend, and changing them reloads', async (t) => {
  const plain = desiredOf({ 'a.test': { tls: { file: 'a.pem' } } }, certs({ 'file:a.pem': cert('A1', ['a.test']) }));
  const redirect = desiredOf({ 'a.test': { tls: { file: 'a.pem' }, redirect: true, hsts: 600 } }, certs({ 'file:a.pem': cert('A1', ['a.test']) }));
  const r = applied(redirect).rendered.config;
  t.match(r, /http-request redirect scheme https code 301 if !\{ ssl_fc \} METH_GET\n\s+http-request redirect scheme https code 308 if !\{ ssl_fc \}/);
  t.match(r, /http-response set-header Strict-Transport-Security max-age=600 if \{ ssl_fc \}/);
  t.match(r, /bind :443 ssl crt \/c\/default\.pem crt-list \/c\/crt-list\.txt alpn h2,http\/1\.1/);
  t.match(plan(applied(plain), target(redirect)), { mode: 'reload', reason: 'backend be_a.test_blue settings changed' });
  const noHttps = { ...SETTINGS, tls: null };
  const view = templateView(redirect, layoutSlots(redirect.vhosts.flatMap((v) => v.backends), 1, null), noHttps);
  t.match(view.backends[0], { redirect: false, hsts: null }, 'without an HTTPS frontend nothing redirects to it');
  t.equal(view.https, null);
});
