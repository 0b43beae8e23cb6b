/**
 * Server slots: every backend renders its servers plus a few free slots, so
 * pod churn can be applied over the Runtime API by filling or freeing a slot
 * instead of reloading. A server that stays keeps its slot name, so its stats
 * and health history survive.
 *
 * Sizing: slots grow only when a backend's servers no longer fit (which needs
 * a reload anyway), and free slots beyond `spare` are given back only when a
 * reload happens for some other reason, never by a reload of their own.
 */
import type { Backend, Endpoint, Slot } from './model.ts';

export type Layout = Readonly<Record<string, readonly Slot[]>>;

export function slotName(index: number): string {
  return `srv${index + 1}`;
}

/** Fresh slots: servers in order, then `spare` free slots. */
export function freshSlots(servers: readonly Endpoint[], spare: number): Slot[] {
  const slots: Slot[] = servers.map((endpoint, i) => ({ name: slotName(i), endpoint }));
  for (let i = servers.length; i < servers.length + spare; i++) slots.push(freeSlot(slotName(i)));
  return slots;
}

// A free slot is its name alone: one object per name, shared by every backend.
const freeSlots = new Map<string, Slot>();

function freeSlot(name: string): Slot {
  let slot = freeSlots.get(name);
  if (!slot) freeSlots.set(name, (slot = Object.freeze({ name, endpoint: null })));
  return slot;
}

/**
 * Fits servers into the previous slots: servers that stay keep their slot,
 * new ones take free slots in order. Returns null when they do not fit.
 */
export function fitSlots(servers: readonly Endpoint[], previous: readonly Slot[]): readonly Slot[] | null {
  const { slots, left } = place(servers, previous);
  return left.length === 0 ? slots : null;
}

/**
 * Like fitSlots, but when the servers do not fit, adds slots under unused
 * names for the ones left over, plus `spare` free ones; no server moves.
 */
export function growSlots(servers: readonly Endpoint[], previous: readonly Slot[], spare: number): readonly Slot[] {
  const { slots, left } = place(servers, previous);
  if (left.length === 0) return slots;
  const used = new Set(slots.map((s) => s.name));
  const added: Slot[] = [];
  for (let i = 0; added.length < left.length + spare; i++) {
    const name = slotName(i);
    if (!used.has(name)) {
      const endpoint = left[added.length];
      added.push(endpoint ? { name, endpoint } : freeSlot(name));
    }
  }
  return sortByIndex([...slots, ...added]);
}

/** Drops free slots beyond `spare`, the highest-numbered first; occupied slots never move. */
export function shrinkSlots(slots: readonly Slot[], spare: number): readonly Slot[] {
  const free = slots.filter((s) => s.endpoint === null);
  if (free.length <= spare) return slots;
  const dropped = new Set(free.slice(spare).map((s) => s.name));
  return slots.filter((s) => !dropped.has(s.name));
}

/**
 * The layout for a set of backends: previous slots reused where the servers
 * fit, grown where they do not, fresh for a backend seen for the first time.
 */
export function layoutSlots(backends: readonly Backend[], spare: number, previous: Layout | null): Layout {
  const placedSlots: Array<readonly Slot[]> = [];
  let same = previous !== null && sizeOf(previous) === backends.length;
  for (const backend of backends) {
    const prev = previous?.[backend.name];
    const slots = prev ? placed(backend, prev, spare) : fresh(backend, spare);
    same &&= slots === prev;
    placedSlots.push(slots);
  }
  // Nothing moved: the same layout, which later steps skip at a glance.
  if (same && previous) return previous;
  const layout: Record<string, readonly Slot[]> = {};
  for (const [i, backend] of backends.entries()) layout[backend.name] = placedSlots[i] ?? [];
  sizes.set(layout, backends.length);
  return layout;
}

const sizes = new WeakMap<Layout, number>();

function sizeOf(layout: Layout): number {
  let size = sizes.get(layout);
  if (size === undefined) sizes.set(layout, (size = Object.keys(layout).length));
  return size;
}

// A backend object that did not change, over the slots it was last placed in, gives the same slots.
const placements = new WeakMap<Backend, { readonly spare: number; readonly previous: readonly Slot[]; readonly slots: readonly Slot[] }>();

/** Fresh slots, remembered as placed: the next layout, over them, takes them as they are. */
function fresh(backend: Backend, spare: number): readonly Slot[] {
  const slots = freshSlots(backend.servers, spare);
  placements.set(backend, { spare, previous: slots, slots });
  return slots;
}

function placed(backend: Backend, previous: readonly Slot[], spare: number): readonly Slot[] {
  const known = placements.get(backend);
  if (known && known.previous === previous && known.spare === spare) return known.slots;
  const slots = growSlots(backend.servers, previous, spare);
  placements.set(backend, { spare, previous, slots });
  return slots;
}

/** The layout with surplus free slots given back, for a reload that rewrites every backend anyway. */
export function shrinkLayout(layout: Layout, spare: number): Layout {
  const out: Record<string, readonly Slot[]> = {};
  for (const [name, slots] of Object.entries(layout)) out[name] = shrinkSlots(slots, spare);
  return out;
}

export function endpointKey(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function place(servers: readonly Endpoint[], previous: readonly Slot[]): { slots: readonly Slot[]; left: Endpoint[] } {
  // Most backends are unchanged from one sync to the next: keep the same list, which the planner then skips at a glance.
  if (sameInOrder(servers, previous)) return { slots: previous, left: [] };
  const wanted = new Set(servers.map(endpointKey));
  if (sameSet(wanted, previous)) return { slots: previous, left: [] };
  const kept = previous.map((s) => (s.endpoint && wanted.has(endpointKey(s.endpoint)) ? s.endpoint : null));
  const placed = new Set(kept.flatMap((e) => (e ? [endpointKey(e)] : [])));
  const left = servers.filter((e) => !placed.has(endpointKey(e)));
  const slots = previous.map((prev, i) => {
    const endpoint = kept[i] ?? left.shift();
    return endpoint ? { name: prev.name, endpoint } : freeSlot(prev.name);
  });
  return { slots, left };
}

/** The occupied slots hold exactly `servers`, in the same order (as a fresh layout does); cheap, no strings built. */
function sameInOrder(servers: readonly Endpoint[], previous: readonly Slot[]): boolean {
  let i = 0;
  for (const slot of previous) {
    if (!slot.endpoint) continue;
    const server = servers[i++];
    if (!server || server.address !== slot.endpoint.address || server.port !== slot.endpoint.port) return false;
  }
  return i === servers.length;
}

function sameSet(wanted: ReadonlySet<string>, previous: readonly Slot[]): boolean {
  let occupied = 0;
  for (const slot of previous) {
    if (!slot.endpoint) continue;
    if (!wanted.has(endpointKey(slot.endpoint))) return false;
    occupied++;
  }
  return occupied === wanted.size;
}

function sortByIndex(slots: Slot[]): Slot[] {
  const index = (s: Slot): number => Number(s.name.slice(3));
  return slots.sort((a, b) => index(a) - index(b));
}
