/**
 * The edge to the Kubernetes API: how to reach it (kubeconfig file or the
 * in-cluster service account), which resources we list and watch, and what
 * to tell an operator when the API refuses or cannot be reached.
 */
import { CoreV1Api, DiscoveryV1Api, KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { SyncError, errorMessage, type ErrorCode } from '../errors.ts';
import { SERVICE_NAME_LABEL } from './kubernetes-endpoints.ts';

export interface KubeAccess {
  readonly kubeconfig: string | null;
  readonly inCluster: boolean;
}

export type ResourceKind = 'services' | 'endpointslices' | 'endpoints' | 'secrets';

/** Only TLS Secrets are read: the API server filters them, so no other Secret ever reaches us. */
export const TLS_SECRET_SELECTOR = 'type=kubernetes.io/tls';

/** One page of a list: at most `limit` objects, from where `_continue` (the client's name for the token) left off; undefined: the start. */
export interface ListPage {
  readonly limit: number;
  readonly _continue: string | undefined;
}

/**
 * Objects per list page, as client-go's reflector asks: a list of 20,000
 * EndpointSlices in one answer is hundreds of megabytes of JSON, parsed and
 * deserialized objects at once, and the heap grown for it stays grown.
 */
export const LIST_PAGE_LIMIT = 500;

/** One list+watch target: a kind, cluster-wide or in one namespace. */
export interface Resource {
  readonly kind: ResourceKind;
  readonly namespace: string | null;
  readonly path: string;
  readonly labelSelector: string | undefined;
  readonly fieldSelector?: string;
  list(kc: KubeConfig, page: ListPage): Promise<KubernetesListObject<KubernetesObject>>;
}

/** Where the credentials come from, as an operator would look for them. */
export function describeAccess(access: KubeAccess): string {
  return access.inCluster ? 'the in-cluster service account' : `kubeconfig ${access.kubeconfig ?? '(none)'}`;
}

/** Reads the kubeconfig afresh, so a fixed file is picked up on the next retry without a restart. */
export function loadKubeConfig(access: KubeAccess): KubeConfig {
  const kc = new KubeConfig();
  if (access.inCluster) {
    if (!process.env['KUBERNETES_SERVICE_HOST'] || !process.env['KUBERNETES_SERVICE_PORT']) {
      throw new SyncError('SOURCE_ERROR', 'kubernetes.inCluster is set but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not: not running in a pod; set kubernetes.kubeconfig instead');
    }
    kc.loadFromCluster();
    return kc;
  }
  const file = access.kubeconfig ?? '';
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new SyncError('SOURCE_ERROR', `kubeconfig ${file}: cannot load it (${errorMessage(err).split('\n')[0]})`);
  }
  if (!kc.getCurrentCluster()) throw new SyncError('SOURCE_ERROR', `kubeconfig ${file}: its current context names no cluster`);
  return kc;
}

/** The resources to watch: Services plus EndpointSlices (or Endpoints), in every namespace or in each one named. */
export function resourcesFor(kinds: readonly ResourceKind[], namespaces: readonly string[]): Resource[] {
  const scopes: readonly (string | null)[] = namespaces.length === 0 ? [null] : [...new Set(namespaces)].sort();
  return kinds.flatMap((kind) => scopes.map((ns) => resource(kind, ns)));
}

function resource(kind: ResourceKind, namespace: string | null): Resource {
  const within = namespace === null ? '' : `/namespaces/${namespace}`;
  switch (kind) {
    case 'services':
      return {
        kind,
        namespace,
        path: `/api/v1${within}/services`,
        labelSelector: undefined,
        list: (kc, page) => {
          const api = kc.makeApiClient(CoreV1Api);
          return namespace === null ? api.listServiceForAllNamespaces({ ...page }) : api.listNamespacedService({ namespace, ...page });
        },
      };
    case 'endpoints':
      return {
        kind,
        namespace,
        path: `/api/v1${within}/endpoints`,
        labelSelector: undefined,
        list: (kc, page) => {
          const api = kc.makeApiClient(CoreV1Api);
          return namespace === null ? api.listEndpointsForAllNamespaces({ ...page }) : api.listNamespacedEndpoints({ namespace, ...page });
        },
      };
    case 'secrets':
      return {
        kind,
        namespace,
        path: `/api/v1${within}/secrets`,
        labelSelector: undefined,
        fieldSelector: TLS_SECRET_SELECTOR,
        list: (kc, page) => {
          const api = kc.makeApiClient(CoreV1Api);
          const fieldSelector = TLS_SECRET_SELECTOR;
          return namespace === null ? api.listSecretForAllNamespaces({ fieldSelector, ...page }) : api.listNamespacedSecret({ namespace, fieldSelector, ...page });
        },
      };
    case 'endpointslices':
      // Only slices that belong to a Service; others (hand-made, mirrored) cannot be routed to.
      return {
        kind,
        namespace,
        path: `/apis/discovery.k8s.io/v1${within}/endpointslices`,
        labelSelector: SERVICE_NAME_LABEL,
        list: (kc, page) => {
          const api = kc.makeApiClient(DiscoveryV1Api);
          const labelSelector = SERVICE_NAME_LABEL;
          return namespace === null ? api.listEndpointSliceForAllNamespaces({ labelSelector, ...page }) : api.listNamespacedEndpointSlice({ namespace, labelSelector, ...page });
        },
      };
  }
}

export interface ApiFailure {
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * Turns what the client library throws (ApiException with a code for lists,
 * Error with statusCode for watches, fetch errors with a cause chain for the
 * network) into one line that says what to fix.
 */
export function describeApiError(err: unknown, res: Resource, access: KubeAccess, server: string): ApiFailure {
  const what = `${res.namespace === null ? res.kind : `${res.kind} in namespace ${res.namespace}`} from ${server}`;
  if (err instanceof SyncError) return { code: err.code, message: err.message };
  const status = httpStatus(err);
  if (status === 401) {
    return { code: 'KUBERNETES_UNAUTHORIZED', message: `reading ${what}: 401 Unauthorized: the API server refused the credentials of ${describeAccess(access)}; fix its token or client certificate` };
  }
  if (status === 403) {
    return { code: 'KUBERNETES_UNAUTHORIZED', message: `reading ${what}: 403 Forbidden: the account of ${describeAccess(access)} needs get, list and watch on ${res.kind} (see README, "Kubernetes source")${statusMessage(err)}` };
  }
  if (status !== null) return { code: 'SOURCE_ERROR', message: `reading ${what}: the API server answered HTTP ${status}${statusMessage(err)}` };
  return { code: 'SOURCE_ERROR', message: `reading ${what}: ${causeChain(err)}` };
}

function httpStatus(err: unknown): number | null {
  if (!err || typeof err !== 'object') return null;
  const code = 'statusCode' in err ? err.statusCode : 'code' in err ? err.code : null;
  return typeof code === 'number' && code >= 100 && code <= 599 ? code : null;
}

/** The Status message kube-apiserver puts in an error body, when there is one. */
function statusMessage(err: unknown): string {
  const body = err && typeof err === 'object' && 'body' in err ? err.body : undefined;
  if (typeof body !== 'string') return '';
  try {
    const parsed: unknown = JSON.parse(body);
    const message = parsed && typeof parsed === 'object' && 'message' in parsed ? parsed.message : undefined;
    return typeof message === 'string' && message.trim() !== '' ? ` (${message.trim().replace(/\s+/g, ' ')})` : '';
  } catch {
    return '';
  }
}

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:6443", from an error and its causes. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current && depth < 4; depth++) {
    const message = errorMessage(current).split('\n')[0] ?? '';
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ') || 'unknown error';
}
