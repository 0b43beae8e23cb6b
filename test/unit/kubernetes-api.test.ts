import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException } from '@kubernetes/client-node';
import t from 'tap';
import { describeApiError, loadKubeConfig, resourcesFor } from '../../src/sources/kubernetes-api.ts';
import { tmpDir } from '../helpers/tmp.ts';

const SERVER = 'https://10.0.0.1:6443';
const FILE = { kubeconfig: '/etc/haproxy-sync/kubeconfig', inCluster: false };
const [services, slices] = resourcesFor(['services', 'endpointslices'], ['shop']);
if (!services || !slices) throw new Error('two resources expected');

t.test('resources: one per kind and namespace, or cluster-wide', async (t) => {
  t.same(resourcesFor(['services', 'endpointslices'], []).map((r) => [r.path, r.labelSelector]), [
    ['/api/v1/services', undefined],
    ['/apis/discovery.k8s.io/v1/endpointslices', 'kubernetes.io/service-name'],
  ]);
  t.same(resourcesFor(['endpoints'], ['b', 'a', 'b']).map((r) => r.path), ['/api/v1/namespaces/a/endpoints', '/api/v1/namespaces/b/endpoints'], 'sorted, duplicates removed');
});

t.test('API errors become one line that says what to fix', async (t) => {
  const unauthorized = describeApiError(new ApiException(401, 'Unauthorized', undefined, {}), services, FILE, SERVER);
  t.same(unauthorized, {
    code: 'KUBERNETES_UNAUTHORIZED',
    message: `reading services in namespace shop from ${SERVER}: 401 Unauthorized: the API server refused the credentials of kubeconfig /etc/haproxy-sync/kubeconfig; fix its token or client certificate`,
  });
  const forbiddenBody = JSON.stringify({ kind: 'Status', code: 403, message: 'endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:lb:haproxy-sync" cannot list resource' });
  const forbidden = describeApiError(new ApiException(403, 'Forbidden', forbiddenBody, {}), slices, { kubeconfig: null, inCluster: true }, SERVER);
  t.equal(forbidden.code, 'KUBERNETES_UNAUTHORIZED');
  t.match(forbidden.message, 'the account of the in-cluster service account needs get, list and watch on endpointslices (see README, "Kubernetes source") (endpointslices.discovery.k8s.io is forbidden: User');

  const watchError = Object.assign(new Error('Service Unavailable'), { statusCode: 503 });
  t.same(describeApiError(watchError, services, FILE, SERVER), { code: 'SOURCE_ERROR', message: `reading services in namespace shop from ${SERVER}: the API server answered HTTP 503` });

  const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' }) });
  t.equal(describeApiError(refused, services, FILE, SERVER).message, `reading services in namespace shop from ${SERVER}: fetch failed: connect ECONNREFUSED 10.0.0.1:6443`);
  const multiline = JSON.stringify({ kind: 'Status', code: 500, message: 'etcdserver:\n  request timed out' });
  t.equal(describeApiError(new ApiException(500, 'x', multiline, {}), services, FILE, SERVER).message, `reading services in namespace shop from ${SERVER}: the API server answered HTTP 500 (etcdserver: request timed out)`, 'one line');
});

t.test('a kubeconfig that cannot be used names the file', async (t) => {
  const dir = tmpDir(t);
  t.throws(() => loadKubeConfig({ kubeconfig: join(dir, 'missing'), inCluster: false }), { code: 'SOURCE_ERROR', message: new RegExp(`^kubeconfig ${dir}/missing: cannot load it \\(ENOENT`) });
  const empty = join(dir, 'empty');
  writeFileSync(empty, 'apiVersion: v1\nkind: Config\n');
  t.throws(() => loadKubeConfig({ kubeconfig: empty, inCluster: false }), { message: `kubeconfig ${empty}: its current context names no cluster` });
  const saved = process.env['KUBERNETES_SERVICE_HOST'];
  delete process.env['KUBERNETES_SERVICE_HOST'];
  t.teardown(() => {
    if (saved !== undefined) process.env['KUBERNETES_SERVICE_HOST'] = saved;
  });
  t.throws(() => loadKubeConfig({ kubeconfig: null, inCluster: true }), { message: /not running in a pod; set kubernetes\.kubeconfig instead/ });
});
