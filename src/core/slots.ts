/**
 * Server slots: every backend renders its servers plus a few free slots, so
 * pod churn can be applied over the Runtime API by filling or freeing a slot
 * instead of reloading. A server that stays keeps its slot name, so its stats
 * and health history survive.
 */
import type { Backend, Endpoint, Slot } from './model.ts';

export type Layout = Readonly<Record<string, readonly Slot[]>>;

export function slotName(index: number): string {
  return `srv${index + 1}`;
}

/** Fresh slots: servers in order, then `spare` free slots. */
export function freshSlots(servers: readonly Endpoint[], spare: number): Slot[] {
  const slots: Slot[] = servers.map((endpoint, i) => ({ name: slotName(i), endpoint }));
  for (let i = servers.length; i < servers.length + spare; i++) slots.push({ name: slotName(i), endpoint: null });
  return slots;
}

/**
 * Fits servers into the previous slots: servers that stay keep their slot,
 * new ones take free slots in order. Returns null when they do not fit.
 */
export function fitSlots(servers: readonly Endpoint[], previous: readonly Slot[]): Slot[] | null {
  const wanted = new Set(servers.map(endpointKey));
  const kept = previous.map((s) => (s.endpoint && wanted.has(endpointKey(s.endpoint)) ? s.endpoint : null));
  const placed = new Set(kept.flatMap((e) => (e ? [endpointKey(e)] : [])));
  const incoming = servers.filter((e) => !placed.has(endpointKey(e)));
  const slots: Slot[] = [];
  for (const [i, prev] of previous.entries()) {
    const endpoint = kept[i] ?? incoming.shift() ?? null;
    slots.push({ name: prev.name, endpoint });
  }
  return incoming.length === 0 ? slots : null;
}

/** The layout for a set of backends, reusing previous slots where they still fit. */
export function layoutSlots(backends: readonly Backend[], spare: number, previous: Layout | null): Layout {
  const layout: Record<string, readonly Slot[]> = {};
  for (const backend of backends) {
    const prev = previous?.[backend.name];
    layout[backend.name] = (prev && fitSlots(backend.servers, prev)) ?? freshSlots(backend.servers, spare);
  }
  return layout;
}

export function endpointKey(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
