/**
 * How two lists of backend views differ in what HAProxy reads at load time:
 * everything a template sees except what the slots hold.
 */
import type { BackendView } from './render.ts';

/** The same backends in the same order: the first one whose structure changed, null for none; undefined when names differ. */
export function changedBackend(before: readonly BackendView[], after: readonly BackendView[]): string | null | undefined {
  for (let i = 0; i < after.length; i++) {
    const b = after[i];
    const prev = before[i];
    if (b === prev) continue;
    if (!b || !prev || prev.name !== b.name) return undefined;
    if (!sameOutsideSlots(prev, b)) return `backend ${b.name} settings changed`;
    if (!sameSlotNames(prev, b)) return slotsReason(prev, b);
  }
  return null;
}

/** Every field a template sees except the slots; any field added to the view later counts as structure. */
export function sameOutsideSlots(a: BackendView, b: BackendView): boolean {
  const keys = Object.keys(a) as Array<keyof BackendView>;
  return keys.length === Object.keys(b).length && keys.every((k) => k === 'slots' || a[k] === b[k]);
}

export function sameSlotNames(a: BackendView, b: BackendView): boolean {
  return a.slots === b.slots || a.slots.length === b.slots.length && a.slots.every((s, i) => s.name === b.slots[i]?.name);
}

export function slotsReason(before: BackendView, after: BackendView): string {
  const servers = after.slots.filter((s) => s.enabled).length;
  if (after.slots.length > before.slots.length) return `backend ${after.name} ran out of server slots (${servers} servers, ${before.slots.length} slots)`;
  return `backend ${after.name} server slots changed`;
}
