/** Builds the etcd client from the daemon config; shared by the etcd source and the fleet code. */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import type { Config } from '../config.ts';
import { SyncError, errorMessage } from '../errors.ts';

/** Unary calls get a deadline so a half-dead connection cannot hang a read forever; streams must not. */
const CALL_DEADLINE_MS = 5000;

const endpointsByClient = new WeakMap<Etcd3, readonly string[]>();

/** The endpoints a client was made for, so errors can name them; empty for a client made elsewhere. */
export function etcdEndpoints(client: Etcd3): readonly string[] {
  return endpointsByClient.get(client) ?? [];
}

export function createEtcdClient(etcd: Config['etcd']): Etcd3 {
  const options: IOptions = {
    hosts: [...etcd.endpoints],
    dialTimeout: 3000,
    // A link that stalls without closing would leave a watch silent forever; pings notice it.
    grpcOptions: { 'grpc.keepalive_time_ms': 10000, 'grpc.keepalive_timeout_ms': 5000, 'grpc.keepalive_permit_without_calls': 1 },
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
  };
  if (etcd.tls) {
    options.credentials = {
      rootCertificate: readSecret(etcd.tls.ca, 'etcd.tls.ca') ?? Buffer.alloc(0),
      ...(etcd.tls.key ? { privateKey: readSecret(etcd.tls.key, 'etcd.tls.key') ?? Buffer.alloc(0) } : {}),
      ...(etcd.tls.cert ? { certChain: readSecret(etcd.tls.cert, 'etcd.tls.cert') ?? Buffer.alloc(0) } : {}),
    };
  }
  if (etcd.auth) {
    const password = readSecret(etcd.auth.passwordFile, 'etcd.auth.passwordFile')?.toString('utf8').trim() ?? '';
    options.auth = { username: etcd.auth.username, password };
  }
  const client = new Etcd3(options);
  endpointsByClient.set(client, etcd.endpoints);
  return client;
}

function readSecret(path: string | null, field: string): Buffer | null {
  if (!path) return null;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SyncError('CONFIG_INVALID', `${field}: cannot read ${path} (${errorMessage(err)})`);
  }
}
