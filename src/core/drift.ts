/**
 * HAProxy's runtime state vs what the daemon applied → the differences and
 * how to repair them. Pure. A map value, a server's address or port and a
 * server's ready/maintenance state can be set over the Runtime API; a
 * missing or extra map key, backend or server needs a checked reload.
 *
 * DRAIN on a server the daemon wants ready is left alone: it is how an
 * operator takes a server out gently, and it ends by itself when the pod
 * leaves. MAINT is what the daemon uses for free slots, so MAINT on a
 * server it wants ready is drift.
 */
import type { Endpoint, Rendered } from './model.ts';
import { mapEntries, type CertificateOp, type RuntimeOp } from './plan.ts';
import { endpointKey, type Layout } from './slots.ts';

export type LiveAdminState = 'ready' | 'maint' | 'drain';

export interface LiveServer {
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  readonly adminState: LiveAdminState;
}

/** What HAProxy runs now, as read over the Runtime API. */
export interface LiveState {
  /** By map file base name ("hosts.map"), key → value in HAProxy's order (first wins). */
  readonly maps: Readonly<Record<string, ReadonlyMap<string, string>>>;
  /** By backend name, every server `show servers state` lists. */
  readonly servers: Readonly<Record<string, readonly LiveServer[]>>;
}

export type DriftKind = 'map' | 'server_addr' | 'server_state' | 'structure';

export interface Drift {
  readonly kind: DriftKind;
  /** "hosts.map shop.example.com", "be_x_blue/srv2". */
  readonly where: string;
  readonly expected: string;
  readonly found: string;
}

export interface DriftRepair {
  readonly drifts: readonly Drift[];
  /** Runtime API operations that repair every drift; empty when a reload is needed. */
  readonly ops: readonly RuntimeOp[];
  /** Some drift cannot be expressed over the Runtime API. */
  readonly reload: boolean;
}

export function findDrift(applied: { readonly layout: Layout; readonly rendered: Rendered }, live: LiveState): DriftRepair {
  const drifts: Drift[] = [];
  const ops: RepairOp[] = [];
  let reload = false;
  const found = (d: Drift, op: RepairOp | null): void => {
    drifts.push(d);
    if (op) ops.push(op);
    else reload = true;
  };
  for (const [map, text] of Object.entries(applied.rendered.maps)) mapDrift(map, text, live.maps[map], found);
  for (const [backend, slots] of Object.entries(applied.layout)) {
    const servers = live.servers[backend];
    if (!servers) {
      if (slots.length > 0) found({ kind: 'structure', where: `backend ${backend}`, expected: `${slots.length} servers`, found: 'missing' }, null);
      continue;
    }
    const byName = new Map(servers.map((s) => [s.name, s]));
    for (const slot of slots) slotDrift(backend, slot.name, slot.endpoint, byName.get(slot.name), found);
    const names = new Set(slots.map((s) => s.name));
    for (const s of servers) if (!names.has(s.name)) found({ kind: 'structure', where: `${backend}/${s.name}`, expected: 'absent', found: `${s.addr}:${s.port}` }, null);
  }
  for (const backend of Object.keys(live.servers)) {
    if (!Object.hasOwn(applied.layout, backend)) found({ kind: 'structure', where: `backend ${backend}`, expected: 'absent', found: 'present' }, null);
  }
  return { drifts, ops: reload ? [] : orderOps(ops), reload };
}

/** Drift repairs touch maps and servers; certificates are not compared here. */
type RepairOp = Exclude<RuntimeOp, CertificateOp>;

type Found = (d: Drift, op: RepairOp | null) => void;

function mapDrift(map: string, text: string, live: ReadonlyMap<string, string> | undefined, found: Found): void {
  if (!live) {
    found({ kind: 'structure', where: `map ${map}`, expected: 'loaded', found: 'missing' }, null);
    return;
  }
  const expected = mapEntries(text);
  const wanted = new Set(expected.map(([key]) => key));
  for (const [key, value] of expected) {
    const got = live.get(key);
    if (got === value) continue;
    const where = `${map} ${key}`;
    if (got === undefined) found({ kind: 'map', where, expected: value, found: 'missing' }, null);
    else found({ kind: 'map', where, expected: value, found: got }, { kind: 'set-map', map, key, value });
  }
  for (const [key, value] of live) if (!wanted.has(key)) found({ kind: 'map', where: `${map} ${key}`, expected: 'absent', found: value }, null);
}

function slotDrift(backend: string, name: string, endpoint: Endpoint | null, server: LiveServer | undefined, found: Found): void {
  const where = `${backend}/${name}`;
  if (!server) {
    found({ kind: 'structure', where, expected: endpoint ? endpointKey(endpoint) : 'free slot', found: 'missing' }, null);
    return;
  }
  if (endpoint === null) {
    if (server.adminState !== 'maint') found({ kind: 'server_state', where, expected: 'maint (free slot)', found: server.adminState }, { kind: 'free-slot', backend, server: name });
    return;
  }
  const fill: RepairOp = { kind: 'fill-slot', backend, server: name, endpoint };
  if (!sameEndpoint(server, endpoint)) found({ kind: 'server_addr', where, expected: endpointKey(endpoint), found: `${server.addr}:${server.port}` }, fill);
  else if (server.adminState === 'maint') found({ kind: 'server_state', where, expected: 'ready', found: 'maint' }, fill);
}

/** Servers first, then maps, then frees: the order a runtime plan uses. */
function orderOps(ops: RepairOp[]): RepairOp[] {
  const rank = { 'fill-slot': 0, 'set-map': 1, 'free-slot': 2 } as const;
  return [...ops].sort((a, b) => rank[a.kind] - rank[b.kind]);
}

export function sameEndpoint(server: { readonly addr: string; readonly port: number }, endpoint: Endpoint): boolean {
  return server.port === endpoint.port && canonicalIp(server.addr) === canonicalIp(endpoint.address);
}

/** IPv6 has many spellings of one address; HAProxy prints its own. */
export function canonicalIp(address: string): string {
  if (!address.includes(':')) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return address;
  }
}

export function describeDrift(d: Drift): string {
  return `${d.where}: expected ${d.expected}, found ${d.found}`;
}
