/**
 * Applied state vs desired state → what to do. Pure. The cheapest safe action
 * wins:
 * - noop: HAProxy already runs the desired state;
 * - runtime: only map values (colour flips) and slot contents (pod churn)
 *   differ, which the Runtime API can change in place;
 * - reload: anything HAProxy only reads at load time differs.
 *
 * The config text is a function of the template view and the template files
 * alone, so comparing those, with slot contents left out, tells a structural
 * change from a runtime one without rendering anything.
 */
import type { DesiredState, Endpoint, Rendered, TemplatesSnapshot } from './model.ts';
import { certificateFile } from './certificate.ts';
import { CERT_HOSTS_DIR, CRT_LIST, certPath, renderMaps, type BackendView, type HttpsView, type TemplateView } from './render.ts';
import { endpointKey, type Layout } from './slots.ts';
import { changedBackend, sameOutsideSlots, sameSlotNames, slotsReason } from './view-compare.ts';

/** What the desired state would look like in HAProxy, before rendering. */
export interface Target {
  readonly desired: DesiredState;
  readonly layout: Layout;
  readonly view: TemplateView;
  readonly templates: TemplatesSnapshot;
}

/** What HAProxy is known to run: the files of the last confirmed apply, and what they were made from. */
export interface AppliedState extends Target {
  readonly rendered: Rendered;
}

/**
 * One Runtime API change. A fill puts an endpoint into a slot and makes it
 * ready (whether the slot was free or held a server that left); a free puts
 * the slot into maintenance; a map change points a host at another backend.
 */
export type RuntimeOp =
  | { readonly kind: 'fill-slot'; readonly backend: string; readonly server: string; readonly endpoint: Endpoint }
  | { readonly kind: 'set-map'; readonly map: string; readonly key: string; readonly value: string }
  | { readonly kind: 'free-slot'; readonly backend: string; readonly server: string }
  | CertificateOp;

/**
 * A certificate change: new content for a file HAProxy already serves, a
 * new file with its crt-list entry, or a file and its entry removed. Paths
 * are as HAProxy loaded them.
 */
export type CertificateOp =
  | { readonly kind: 'set-cert'; readonly file: string; readonly pem: string; readonly serial: string }
  | { readonly kind: 'add-cert'; readonly file: string; readonly pem: string; readonly serial: string; readonly crtList: string; readonly sni: string }
  | { readonly kind: 'del-cert'; readonly file: string; readonly crtList: string };

export type Plan =
  | { readonly mode: 'noop' }
  | { readonly mode: 'runtime'; readonly reason: string; readonly ops: readonly RuntimeOp[] }
  | { readonly mode: 'reload'; readonly reason: string };

export type RuntimePlan = Extract<Plan, { mode: 'runtime' }>;

export function plan(applied: AppliedState | null, target: Target): Plan {
  if (!applied) return { mode: 'reload', reason: 'HAProxy state not known (first apply since start, or a failed apply)' };
  const structural = structuralChange(applied, target);
  if (structural) return { mode: 'reload', reason: structural };
  const maps = mapOps(applied.rendered.maps, renderMaps(target.desired, target.view.https !== null));
  if (typeof maps === 'string') return { mode: 'reload', reason: maps };
  const { fills, frees } = slotOps(applied.layout, target.layout, target.view.backends);
  const certs = target.view.https ? certificateOps(applied.rendered.certificates ?? {}, target.desired, target.view.https) : { added: [], removed: [] };
  // New servers (and certificates) are ready before traffic is pointed at them, and traffic
  // has moved away before the servers (and certificates) that left stop taking new requests.
  const ops = [...certs.added, ...fills, ...maps, ...frees, ...certs.removed];
  if (ops.length === 0) return { mode: 'noop' };
  return { mode: 'runtime', reason: describe(ops), ops };
}

/** Two name → text records hold the same entries. */
export function sameTexts(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

export function sameTemplates(a: TemplatesSnapshot, b: TemplatesSnapshot): boolean {
  return a === b || sameTexts(a.files, b.files);
}

/** Parses a rendered map file ("key value" lines) into its entries, in file order. */
export function mapEntries(text: string): Array<[string, string]> {
  const known = parsedMaps.get(text);
  if (known) return known;
  const entries = parseMap(text);
  // The maps HAProxy runs and the ones just rendered: the two texts each sync compares.
  if (parsedMaps.size >= 4) parsedMaps.delete(parsedMaps.keys().next().value ?? '');
  parsedMaps.set(text, entries);
  return entries;
}

const parsedMaps = new Map<string, Array<[string, string]>>();

function parseMap(text: string): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    entries.push(space < 0 ? [line, ''] : [line.slice(0, space), line.slice(space + 1)]);
  }
  return entries;
}

function structuralChange(applied: AppliedState, target: Target): string | null {
  if (!sameTemplates(applied.templates, target.templates)) return 'templates changed';
  return hostChange(applied.desired, target.desired) ?? settingsChange(applied.view, target.view) ?? backendChange(applied.view.backends, target.view.backends);
}

function hostChange(before: DesiredState, after: DesiredState): string | null {
  // Vhosts come sorted by host: the same hosts are the same list.
  if (before.vhosts === after.vhosts || (before.vhosts.length === after.vhosts.length && after.vhosts.every((v, i) => v.host === before.vhosts[i]?.host))) return null;
  const old = new Set(before.vhosts.map((v) => v.host));
  const now = new Set(after.vhosts.map((v) => v.host));
  for (const host of now) if (!old.has(host)) return `vhost ${host} added`;
  for (const host of old) if (!now.has(host)) return `vhost ${host} removed`;
  return null;
}

function settingsChange(before: TemplateView, after: TemplateView): string | null {
  const outside = (v: TemplateView): string => JSON.stringify({ ...v, backends: null });
  return outside(before) === outside(after) ? null : 'daemon settings seen by the templates changed';
}

function backendChange(before: readonly BackendView[], after: readonly BackendView[]): string | null {
  if (before.length === after.length) {
    const changed = changedBackend(before, after);
    if (changed !== undefined) return changed;
  }
  const old = new Set(before.map((b) => b.name));
  const now = new Set(after.map((b) => b.name));
  for (const b of after) if (!old.has(b.name)) return `backend ${b.name} added`;
  for (const b of before) if (!now.has(b.name)) return `backend ${b.name} removed`;
  for (const [i, b] of after.entries()) {
    const prev = before[i];
    if (!prev || prev.name !== b.name) return 'backends reordered';
    if (!sameOutsideSlots(prev, b)) return `backend ${b.name} settings changed`;
    if (!sameSlotNames(prev, b)) return slotsReason(prev, b);
  }
  return null;
}

function mapOps(before: Rendered['maps'], after: Rendered['maps']): RuntimeOp[] | string {
  const ops: RuntimeOp[] = [];
  for (const map of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const old = before[map];
    const now = after[map];
    if (old === undefined || now === undefined) return `map file ${map} ${old === undefined ? 'added' : 'removed'}`;
    if (old === now) continue;
    const a = mapEntries(old);
    const b = mapEntries(now);
    // Adding a key at runtime appends it, which would break the longest-suffix-first order of the wildcard map.
    if (a.length !== b.length || a.some(([key], i) => key !== b[i]?.[0])) return `map file ${map} gained or lost keys`;
    for (const [i, [key, value]] of b.entries()) if (a[i]?.[1] !== value) ops.push({ kind: 'set-map', map, key, value });
  }
  return ops;
}

function slotOps(before: Layout, after: Layout, backends: readonly BackendView[]): { fills: RuntimeOp[]; frees: RuntimeOp[] } {
  const fills: RuntimeOp[] = [];
  const frees: RuntimeOp[] = [];
  for (const { name: backend } of backends) {
    const old = before[backend] ?? [];
    const slots = after[backend] ?? [];
    if (old === slots) continue;
    for (const [i, slot] of slots.entries()) {
      const was = old[i]?.endpoint ?? null;
      const now = slot.endpoint;
      if (was === now || (was && now && endpointKey(was) === endpointKey(now))) continue;
      if (now) fills.push({ kind: 'fill-slot', backend, server: slot.name, endpoint: now });
      else frees.push({ kind: 'free-slot', backend, server: slot.name });
    }
  }
  return { fills, frees };
}

/** Certificates that changed, appeared or went, as Runtime API operations; the crt-list follows from them. */
function certificateOps(before: Readonly<Record<string, string>>, desired: DesiredState, https: HttpsView): { added: CertificateOp[]; removed: CertificateOp[] } {
  const added: CertificateOp[] = [];
  const removed: CertificateOp[] = [];
  const now = new Set<string>();
  for (const v of desired.vhosts) {
    if (!v.tls) continue;
    const file = `${CERT_HOSTS_DIR}/${certificateFile(v.host)}`;
    now.add(file);
    const old = before[file];
    if (old === v.tls.pem) continue;
    const path = certPath(https, file);
    if (old === undefined) added.push({ kind: 'add-cert', file: path, pem: v.tls.pem, serial: v.tls.leaf.serial, crtList: https.crtList, sni: v.host });
    else added.push({ kind: 'set-cert', file: path, pem: v.tls.pem, serial: v.tls.leaf.serial });
  }
  for (const file of Object.keys(before)) {
    if (file !== CRT_LIST && !now.has(file)) removed.push({ kind: 'del-cert', file: certPath(https, file), crtList: https.crtList });
  }
  return { added, removed };
}

const DESCRIBED_OPS = 5;

function describe(ops: readonly RuntimeOp[]): string {
  const parts = ops.slice(0, DESCRIBED_OPS).map((op) => {
    switch (op.kind) {
      case 'set-map':
        return `${op.key} → ${op.value}`;
      case 'fill-slot':
        return `${op.backend}/${op.server} ← ${endpointKey(op.endpoint)}`;
      case 'free-slot':
        return `${op.backend}/${op.server} freed`;
      case 'set-cert':
        return `certificate ${op.file} ← serial ${op.serial}`;
      case 'add-cert':
        return `certificate ${op.file} added (serial ${op.serial})`;
      case 'del-cert':
        return `certificate ${op.file} removed`;
    }
  });
  const more = ops.length > DESCRIBED_OPS ? `, +${ops.length - DESCRIBED_OPS} more` : '';
  return `${parts.join(', ')}${more}`;
}
