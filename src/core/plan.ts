/**
 * Applied state vs desired state → what to do. Pure. The cheapest safe action
 * wins: nothing when HAProxy already runs the desired files, otherwise a
 * checked reload.
 */
import type { DesiredState, Rendered } from './model.ts';
import type { Layout } from './slots.ts';

/** What HAProxy is known to run: the files of the last confirmed apply, and what they were made from. */
export interface AppliedState {
  readonly desired: DesiredState;
  readonly layout: Layout;
  readonly rendered: Rendered;
}

export interface Target {
  readonly desired: DesiredState;
  readonly layout: Layout;
  readonly rendered: Rendered;
}

export type Plan =
  | { readonly mode: 'noop' }
  | { readonly mode: 'reload'; readonly reason: string };

export function plan(applied: AppliedState | null, target: Target): Plan {
  if (!applied) return { mode: 'reload', reason: 'first apply since start' };
  if (applied.rendered.config !== target.rendered.config) return { mode: 'reload', reason: 'config changed' };
  if (!sameMaps(applied.rendered.maps, target.rendered.maps)) return { mode: 'reload', reason: 'maps changed' };
  return { mode: 'noop' };
}

export function sameMaps(a: Rendered['maps'], b: Rendered['maps']): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
