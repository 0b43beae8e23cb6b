/**
 * HAProxy's server-state file: `show servers state` dumped just before a
 * reload, loaded by the new workers (`server-state-file` +
 * `load-server-state-from-file`), so a server HAProxy found DOWN, or an
 * operator put in DRAIN, stays so across the reload instead of starting UP.
 *
 * HAProxy matches saved lines to servers by backend and server name only,
 * and applies the saved health to whatever address the name now has
 * (checked on 2.6: a slot moved to another pod inherited the old pod's
 * DOWN). So a line is kept only when its slot holds the same endpoint
 * before and after the reload, and HAProxy's own line says that address.
 *
 * A line in forced maintenance is dropped: the daemon puts the servers it
 * wants in a slot into READY and treats MAINT on them as drift (see
 * drift.ts), so a reload must not bring it back; nor the stopped state
 * that maintenance implies, which a server without health checks would
 * never leave. DRAIN and the health found by the checks are kept.
 */
import { sameEndpoint } from './drift.ts';
import type { Endpoint } from './model.ts';
import type { Layout } from './slots.ts';

/** Backend → server → the endpoint it keeps across the reload. */
export type KeptSlots = ReadonlyMap<string, ReadonlyMap<string, Endpoint>>;

/** A server-state file that restores nothing; HAProxy warns about a missing or empty one. */
export const EMPTY_SERVER_STATE = '1\n';

/** SRV_ADMF_FMAINT: maintenance set over the Runtime API (`disable server`, `set server … state maint`). */
const FORCED_MAINT = 0x01;

export function keptSlots(before: Layout | null, after: Layout): KeptSlots {
  const kept = new Map<string, Map<string, Endpoint>>();
  if (!before) return kept;
  for (const [backend, slots] of Object.entries(after)) {
    const old = new Map((before[backend] ?? []).map((s) => [s.name, s.endpoint]));
    for (const slot of slots) {
      const was = old.get(slot.name);
      if (!slot.endpoint || !was || was.port !== slot.endpoint.port || !sameEndpoint({ addr: was.address, port: was.port }, slot.endpoint)) continue;
      let servers = kept.get(backend);
      if (!servers) kept.set(backend, (servers = new Map()));
      servers.set(slot.name, slot.endpoint);
    }
  }
  return kept;
}

/** The lines of a `show servers state` answer whose slot is kept; an answer in an unknown format keeps nothing. */
export function filterServerState(dump: string, kept: KeptSlots): string {
  const [version, header, ...rows] = dump.split('\n');
  if (version !== '1' || header === undefined || !header.startsWith('# ')) return EMPTY_SERVER_STATE;
  const names = header.slice(2).split(' ');
  const col = (name: string): number => names.indexOf(name);
  const [be, srv, addr, port, admin] = [col('be_name'), col('srv_name'), col('srv_addr'), col('srv_port'), col('srv_admin_state')];
  if (be < 0 || srv < 0 || addr < 0 || port < 0 || admin < 0) return EMPTY_SERVER_STATE;
  const keep = rows.flatMap((row) => {
    const f = row.split(' ');
    if (row === '' || f.length !== names.length) return [];
    const endpoint = kept.get(f[be] ?? '')?.get(f[srv] ?? '');
    if (endpoint === undefined || !sameEndpoint({ addr: f[addr] ?? '', port: Number(f[port]) }, endpoint)) return [];
    const flags = Number(f[admin]);
    return Number.isInteger(flags) && (flags & FORCED_MAINT) === 0 ? [row] : [];
  });
  return `1\n${header}\n${keep.map((r) => `${r}\n`).join('')}`;
}
