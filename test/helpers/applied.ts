/** An AppliedState for unit tests, with the template view derived the way the reconciler derives it. */
import type { DesiredState, Rendered } from '../../src/core/model.ts';
import type { AppliedState } from '../../src/core/plan.ts';
import { templateView } from '../../src/core/render.ts';
import type { Layout } from '../../src/core/slots.ts';

export function appliedState(desired: DesiredState, layout: Layout, rendered: Rendered = { config: '', maps: {} }): AppliedState {
  const settings = { node: 'test', adminSocket: '/run/admin.sock', mapsDir: '/etc/haproxy/maps', bind: [[':80']], spareSlots: 2 };
  return { desired, layout, rendered, view: templateView(desired, layout, settings), templates: { dir: '/templates', files: {} } };
}
