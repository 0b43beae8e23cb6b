/** Synthetic inputs for benchmarks: N vhosts × M servers, as snapshots the core takes. */
import type { EtcdSnapshot, ServicesSnapshot } from '../../src/core/model.ts';

/** With `health`, every server slot gets a check: HAProxy then reserves a file descriptor per server. */
export function syntheticInputs(vhosts: number, servers: number, health = false): { etcd: EtcdSnapshot; services: ServicesSnapshot } {
  const entries: Record<string, { value: string; modRevision: number }> = {};
  const services: Record<string, { ports: Record<string, { address: string; port: number }[]> }> = {};
  for (let v = 0; v < vhosts; v++) {
    const spec = { backends: { blue: { service: `ns/app${v}-blue`, port: 'http' }, green: { service: `ns/app${v}-green`, port: 'http' } }, default: 'blue', ...(health ? { health: { path: '/healthz' } } : {}) };
    entries[`vhosts/app${v}.example.com/spec`] = { value: JSON.stringify(spec), modRevision: v + 1 };
    for (const [c, colour] of ['blue', 'green'].entries()) {
      const list = [];
      for (let s = 0; s < servers; s++) list.push({ address: `10.${c}.${Math.floor(v / 250) % 256}.${(v % 250) + 1}`, port: 8000 + s });
      services[`ns/app${v}-${colour}`] = { ports: { http: list } };
    }
  }
  return { etcd: { prefix: '/haproxy-sync/', revision: vhosts, entries }, services: { services, problems: [] } };
}
