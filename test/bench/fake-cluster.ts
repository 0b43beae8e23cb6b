/**
 * Filling the fake Kubernetes API server with many Services, as a big
 * cluster holds them: per service a Service with an "http" port and one
 * EndpointSlice of `servers` endpoints. The endpoints are loopback
 * addresses on port 1, where nothing listens: a connection or a health
 * check is refused at once, and no packet leaves the machine.
 */
import { endpointSlice, service, type FakeApiServer } from '../fixtures/fake-apiserver.ts';
import { SERVICE_PORT, splitRef } from '../helpers/kube.ts';

const DEAD_PORT = 1;

/** Publishes `ns/app<v>-<colour>` for v < vhosts and both colours, except the refs in `skip` (served by real pods). */
export function publishSyntheticServices(server: FakeApiServer, vhosts: number, servers: number, skip: ReadonlySet<string>): number {
  let published = 0;
  for (let v = 0; v < vhosts; v++) {
    for (const [c, colour] of ['blue', 'green'].entries()) {
      const ref = `ns/app${v}-${colour}`;
      if (skip.has(ref)) continue;
      const [ns, name] = splitRef(ref);
      server.apply('services', service(ns, name, [{ name: 'http', port: SERVICE_PORT, targetPort: 'http' }]));
      const eps = Array.from({ length: servers }, (_, s) => ({ ip: syntheticAddress(v, c, s) }));
      server.apply('endpointslices', endpointSlice(ns, `${name}-main`, name, eps, [{ name: 'http', port: DEAD_PORT }]));
      published++;
    }
  }
  return published;
}

/** Unique per vhost, colour and server for up to 65,536 vhosts and 20 servers. */
function syntheticAddress(v: number, colour: number, server: number): string {
  return `127.${200 + colour * 20 + server}.${(v >> 8) & 255}.${v & 255}`;
}
