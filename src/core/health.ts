/**
 * HAProxy's view of server health, joined with what the daemon applied.
 * Pure: the caller reads `show stat` and passes it in. The same numbers feed
 * the API, the node status in etcd, and the flip health gate, so all three
 * always agree on what "up" means.
 */
import type { Backend, Slot, VHost } from './model.ts';
import type { AppliedState } from './plan.ts';
import { endpointKey } from './slots.ts';

/** One server row of `show stat`: the status column ("UP", "DOWN", "UP 1/2", "no check"...) and check_status ("L7OK", "INI"...). */
export interface StatEntry {
  readonly status: string;
  readonly check: string;
}

/** `show stat` server rows keyed "backend/server". */
export type ServerStats = ReadonlyMap<string, StatEntry>;

export interface ServerHealth {
  readonly name: string;
  readonly address: string;
  /** HAProxy's status column; "unknown" when HAProxy did not list the server. */
  readonly status: string;
  readonly check: string;
  readonly up: boolean;
  /** Not checked yet since HAProxy (re)started: HAProxy routes to it, but nothing says it is healthy. */
  readonly pending: boolean;
}

export interface BackendHealth {
  readonly colour: string;
  readonly name: string;
  readonly service: string;
  readonly port: string;
  readonly healthPath: string | null;
  readonly minReady: number;
  /** Ready endpoints the sources report (and HAProxy was given). */
  readonly ready: number;
  /** Of those, the ones HAProxy reports up. */
  readonly up: number;
  readonly servers: readonly ServerHealth[];
}

export interface VHostHealth {
  readonly host: string;
  readonly active: string;
  readonly revision: number;
  readonly backends: readonly BackendHealth[];
}

// A passed last check; "INI" (not checked yet) and failures do not count, so a
// server that is UP only because HAProxy starts servers UP cannot pass the gate.
const CHECK_PASSED = /^(?:\* )?(?:L4OK|L6OK|L7OK|L7OKC)$/;

/** Up means: HAProxy sends it traffic, and its last health check (if it has one) passed. */
export function isServerUp(entry: StatEntry | undefined): boolean {
  if (!entry) return false;
  if (entry.status === 'no check') return true;
  return entry.status.startsWith('UP') && CHECK_PASSED.test(entry.check);
}

export function isCheckPending(entry: StatEntry | undefined): boolean {
  return entry !== undefined && entry.status.startsWith('UP') && /^(?:\* )?INI$/.test(entry.check);
}

export function statKey(backend: string, server: string): string {
  return `${backend}/${server}`;
}

export function vhostsHealth(applied: AppliedState, stats: ServerStats): VHostHealth[] {
  return applied.desired.vhosts.map((v) => vhostHealth(v, applied, stats));
}

export function vhostHealth(vhost: VHost, applied: AppliedState, stats: ServerStats): VHostHealth {
  return {
    host: vhost.host,
    active: vhost.active,
    revision: vhost.revision,
    backends: vhost.backends.map((b) => backendHealth(b, applied, stats)),
  };
}

// A sync changes few backends and reads no stats: the health of the others is the same objects.
const known = new WeakMap<Backend, { readonly slots: readonly Slot[] | undefined; readonly stats: ServerStats; readonly health: BackendHealth }>();

/** Only slots holding an endpoint count: free slots are disabled placeholders, not servers. */
export function backendHealth(backend: Backend, applied: AppliedState, stats: ServerStats): BackendHealth {
  const layoutSlots = applied.layout[backend.name];
  const was = known.get(backend);
  if (was && was.slots === layoutSlots && was.stats === stats) return was.health;
  const health = healthOf(backend, layoutSlots ?? [], stats);
  known.set(backend, { slots: layoutSlots, stats, health });
  return health;
}

function healthOf(backend: Backend, layoutSlots: readonly Slot[], stats: ServerStats): BackendHealth {
  const slots = layoutSlots.filter((s) => s.endpoint !== null);
  const servers = slots.map((slot): ServerHealth => {
    const entry = stats.get(statKey(backend.name, slot.name));
    return {
      name: slot.name,
      address: slot.endpoint ? endpointKey(slot.endpoint) : '',
      status: entry?.status ?? 'unknown',
      check: entry?.check ?? '',
      up: isServerUp(entry),
      pending: isCheckPending(entry),
    };
  });
  return {
    colour: backend.colour,
    name: backend.name,
    service: backend.service,
    port: backend.port,
    healthPath: backend.healthPath,
    minReady: backend.minReady,
    ready: servers.length,
    up: servers.filter((s) => s.up).length,
    servers,
  };
}

export type GateResult =
  | { readonly ok: true }
  /** `pending`: some failing servers have not been checked yet, so asking again shortly may pass. */
  | { readonly ok: false; readonly reason: string; readonly failing: readonly ServerHealth[]; readonly pending: boolean };

/** The flip health gate: the colour needs at least minReady servers that HAProxy reports up. */
export function healthGate(host: string, backend: BackendHealth): GateResult {
  if (backend.up >= backend.minReady) return { ok: true };
  const failing = backend.servers.filter((s) => !s.up);
  const pending = failing.some((s) => s.pending);
  const checks = backend.healthPath ? `health checks on ${backend.healthPath}` : 'HAProxy (no health.path, so no checks)';
  const reason =
    backend.ready < backend.minReady
      ? `${host} ${backend.colour} has ${backend.ready} ready endpoints of service ${backend.service}, fewer than health.minReady ${backend.minReady}`
      : `${host} ${backend.colour} has ${backend.up} of ${backend.ready} servers up according to ${checks}, fewer than health.minReady ${backend.minReady}${pending ? ' (some were not checked yet since HAProxy reloaded)' : ''}`;
  return { ok: false, reason, failing, pending };
}
