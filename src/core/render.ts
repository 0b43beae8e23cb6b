/**
 * Desired state → haproxy.cfg text and map files, through Eta templates.
 * Every interpolation goes through haproxyWord, which refuses unsafe values.
 * Same input, byte-identical output.
 */
import { SyncError, errorMessage } from '../errors.ts';
import { certificateFile } from './certificate.ts';
import { haproxyWord } from './escape.ts';
import { PLAIN_PROCESS, type Backend, type DesiredState, type ProcessSettings, type RenderSettings, type Rendered, type Slot, type TemplatesSnapshot, type VHost } from './model.ts';
import { PartRenderer, type RenderedConfig } from './part-renderer.ts';
import { endpointKey, type Layout } from './slots.ts';

export const MAIN_TEMPLATE = 'haproxy.cfg.eta';
export const HOSTS_MAP = 'hosts.map';
export const WILDCARDS_MAP = 'wildcards.map';
export const TLS_HOSTS_MAP = 'tls-hosts.map';
export const TLS_WILDCARDS_MAP = 'tls-wildcards.map';
/** In the certificates directory: the crt-list, each vhost's PEM under HOSTS_DIR, the generated default certificate. */
export const CRT_LIST = 'crt-list.txt';
export const CERT_HOSTS_DIR = 'hosts';
export const DEFAULT_CERT = 'default.pem';
/** The backend that answers 404; hosts not served over HTTPS point to it in the TLS maps. */
export const NO_VHOST_BACKEND = 'be_no_vhost';

export interface SlotView {
  readonly name: string;
  readonly address: string;
  readonly enabled: boolean;
}

export interface BackendView {
  readonly name: string;
  readonly host: string;
  readonly colour: string;
  readonly balance: string;
  readonly healthPath: string | null;
  /** Plain-HTTP requests are redirected to HTTPS (only when HTTPS serves this host). */
  readonly redirect: boolean;
  /** Strict-Transport-Security max-age for HTTPS answers, or null. */
  readonly hsts: number | null;
  readonly slots: readonly SlotView[];
}

export interface HttpsView {
  readonly bind: readonly (readonly string[])[];
  readonly crtList: string;
  readonly defaultCert: string;
  readonly maps: { readonly hosts: string; readonly wildcards: string };
}

/** What templates see as `it`. */
export interface TemplateView {
  readonly node: string;
  readonly adminSocket: string;
  /** Where HAProxy reads saved server states at load; null: no server-state file. */
  readonly serverStateFile: string | null;
  readonly process: ProcessSettings;
  /** The status codes errorfile lines are rendered for when process.errorfiles is set. */
  readonly errorCodes: readonly number[];
  readonly bind: readonly (readonly string[])[];
  readonly maps: { readonly hosts: string; readonly wildcards: string };
  /** The HTTPS frontend; null when haproxy.bindTls is empty. */
  readonly https: HttpsView | null;
  readonly backends: readonly BackendView[];
}

/** The pages Debian's haproxy package ships in /etc/haproxy/errors. */
const ERROR_PAGES = [400, 403, 408, 500, 502, 503, 504];

const compiled = new WeakMap<TemplatesSnapshot, PartRenderer>();

export function render(desired: DesiredState, layout: Layout, settings: RenderSettings, templates: TemplatesSnapshot): Rendered {
  return renderView(templateView(desired, layout, settings), desired, templates);
}

/** Renders a view already built (the planner compares views before anything is rendered). */
export function renderView(view: TemplateView, desired: DesiredState, templates: TemplatesSnapshot): Rendered {
  const renderer = compile(templates);
  let config: RenderedConfig;
  try {
    config = renderer.renderConfig(view);
  } catch (err) {
    throw templateError(templates, err);
  }
  const certificates = view.https ? renderCertificates(desired, view.https) : {};
  const maps = renderMaps(desired, view.https !== null);
  // The text is joined on first read: a runtime change may never need it on its way to HAProxy.
  return {
    get config() {
      return config.text();
    },
    configDigest: config.digest,
    maps,
    certificates,
  };
}

/**
 * Renders the backends of `views` that have not been rendered yet, so that a
 * later renderView finds them ready: a caller can spread a large first render
 * over several turns of the event loop.
 */
export function prerender(view: TemplateView, backends: readonly BackendView[], templates: TemplatesSnapshot): void {
  try {
    compile(templates).prerender(view, backends);
  } catch (err) {
    throw templateError(templates, err);
  }
}

/** The crt-list and the PEM files it names: one entry per vhost served over HTTPS, its host as the SNI filter. */
export function renderCertificates(desired: DesiredState, https: HttpsView): Record<string, string> {
  const files: Record<string, string> = {};
  const lines: string[] = [];
  for (const v of desired.vhosts) {
    if (!v.tls) continue;
    const file = `${CERT_HOSTS_DIR}/${certificateFile(v.host)}`;
    files[file] = v.tls.pem;
    lines.push(`${certPath(https, file)} ${haproxyWord(v.host)}\n`);
  }
  files[CRT_LIST] = lines.join('');
  return files;
}

/** Where HAProxy reads a file of the certificates directory from. */
export function certPath(https: Pick<HttpsView, 'crtList'>, file: string): string {
  return `${https.crtList.slice(0, -CRT_LIST.length)}${haproxyWord(file)}`;
}

export function mapPath(settings: Pick<RenderSettings, 'mapsDir'>, file: string): string {
  return `${settings.mapsDir.replace(/\/+$/, '')}/${file}`;
}

/** Everything a template can see; the config is a function of this and the template files alone. */
export function templateView(desired: DesiredState, layout: Layout, settings: RenderSettings): TemplateView {
  // The same vhosts in the same slots with the same settings: the same view, which the planner and the renderer skip at a glance.
  const last = lastView;
  if (last && last.vhosts === desired.vhosts && last.layout === layout && last.settings === settings) return last.view;
  const view = makeView(desired, layout, settings);
  lastView = { vhosts: desired.vhosts, layout, settings, view };
  return view;
}

let lastView: { vhosts: DesiredState['vhosts']; layout: Layout; settings: RenderSettings; view: TemplateView } | null = null;

function makeView(desired: DesiredState, layout: Layout, settings: RenderSettings): TemplateView {
  const https = httpsView(settings);
  const backends = desired.vhosts.flatMap((v) => {
    const redirect = https !== null && v.tls?.redirect === true;
    const hsts = https !== null ? (v.tls?.hsts ?? null) : null;
    return v.backends.map((b) => backendView(b, slotViews(layout[b.name] ?? []), redirect, hsts));
  });
  return {
    node: settings.node,
    adminSocket: settings.adminSocket,
    serverStateFile: settings.serverStateFile ?? null,
    process: settings.process ?? PLAIN_PROCESS,
    errorCodes: ERROR_PAGES,
    bind: settings.bind,
    maps: { hosts: mapPath(settings, HOSTS_MAP), wildcards: mapPath(settings, WILDCARDS_MAP) },
    https,
    backends,
  };
}

function httpsView(settings: RenderSettings): HttpsView | null {
  if (!settings.tls || settings.tls.bind.length === 0) return null;
  const dir = `${settings.tls.certsDir.replace(/\/+$/, '')}/`;
  return {
    bind: settings.tls.bind,
    crtList: `${dir}${CRT_LIST}`,
    defaultCert: `${dir}${DEFAULT_CERT}`,
    maps: { hosts: mapPath(settings, TLS_HOSTS_MAP), wildcards: mapPath(settings, TLS_WILDCARDS_MAP) },
  };
}

// An unchanged backend keeps its view object from one sync to the next: the planner and the renderer then skip it at a glance.
const backendViews = new WeakMap<Backend, BackendView>();

function backendView(b: Backend, slots: readonly SlotView[], redirect: boolean, hsts: number | null): BackendView {
  const was = backendViews.get(b);
  if (was && was.slots === slots && was.redirect === redirect && was.hsts === hsts) return was;
  const view = { name: b.name, host: b.host, colour: b.colour, balance: b.balance, healthPath: b.healthPath, redirect, hsts, slots };
  backendViews.set(b, view);
  return view;
}

// An unchanged backend keeps its slot list from one sync to the next; so does its view.
const slotViewCache = new WeakMap<readonly Slot[], readonly SlotView[]>();

function slotViews(slots: readonly Slot[]): readonly SlotView[] {
  let views = slotViewCache.get(slots);
  if (!views) {
    views = slots.map((s) => (s.endpoint ? { name: s.name, address: endpointKey(s.endpoint), enabled: true } : freeSlotView(s.name)));
    slotViewCache.set(slots, views);
  }
  return views;
}

// Free slots look alike in every backend: one view per slot name, shared (a few hundred thousand at scale).
const freeSlotViews = new Map<string, SlotView>();

function freeSlotView(name: string): SlotView {
  let view = freeSlotViews.get(name);
  if (!view) freeSlotViews.set(name, (view = Object.freeze({ name, address: '0.0.0.0:0', enabled: false })));
  return view;
}

/**
 * Host → live backend. Exact hosts in one map; wildcards by suffix, longest
 * first so the most specific wins. With HTTPS, the TLS maps hold the same
 * keys, pointing hosts without a certificate at the 404 backend: adding or
 * losing a certificate then changes values only, which the Runtime API can
 * do, and an exact host without one never falls through to a wildcard's.
 */
export function renderMaps(desired: DesiredState, https = false): Record<string, string> {
  const known = renderedMaps.get(desired.vhosts);
  if (known && known.https === https) return known.maps;
  const maps = mapsOf(desired, https);
  renderedMaps.set(desired.vhosts, { https, maps });
  return maps;
}

// The planner and the renderer both need a sync's maps; vhost lists that did not change keep them.
const renderedMaps = new WeakMap<readonly VHost[], { https: boolean; maps: Record<string, string> }>();

function mapsOf(desired: DesiredState, https: boolean): Record<string, string> {
  const exact: Array<[string, string, string]> = [];
  const wildcard: Array<[string, string, string]> = [];
  for (const v of desired.vhosts) {
    const live = v.backends.find((b) => b.colour === v.active);
    if (!live) continue;
    const tls = v.tls ? live.name : NO_VHOST_BACKEND;
    if (v.host.startsWith('*.')) wildcard.push([v.host.slice(1), live.name, tls]);
    else exact.push([v.host, live.name, tls]);
  }
  wildcard.sort(([a], [b]) => b.length - a.length || (a < b ? -1 : 1));
  const text = (entries: Array<[string, string, string]>, i: 1 | 2): string => entries.map((e) => `${e[0]} ${e[i]}\n`).join('');
  const maps = { [HOSTS_MAP]: text(exact, 1), [WILDCARDS_MAP]: text(wildcard, 1) };
  return https ? { ...maps, [TLS_HOSTS_MAP]: text(exact, 2), [TLS_WILDCARDS_MAP]: text(wildcard, 2) } : maps;
}

function compile(templates: TemplatesSnapshot): PartRenderer {
  const cached = compiled.get(templates);
  if (cached) return cached;
  if (templates.files[MAIN_TEMPLATE] === undefined) {
    throw new SyncError('TEMPLATE_INVALID', `template directory ${templates.dir} has no ${MAIN_TEMPLATE}`);
  }
  const renderer = new PartRenderer(`@${MAIN_TEMPLATE}`);
  for (const [name, text] of Object.entries(templates.files)) {
    try {
      renderer.loadTemplate(`@${name}`, text);
      if (name.endsWith('.eta')) renderer.loadTemplate(`@${name.slice(0, -4)}`, text);
    } catch (err) {
      throw new SyncError('TEMPLATE_INVALID', `template ${templates.dir}/${name}: ${firstLine(errorMessage(err))}`);
    }
  }
  compiled.set(templates, renderer);
  return renderer;
}

function templateError(templates: TemplatesSnapshot, err: unknown): SyncError {
  if (err instanceof SyncError) return new SyncError(err.code, `templates in ${templates.dir}: ${err.message}`);
  return new SyncError('TEMPLATE_INVALID', `templates in ${templates.dir}: ${firstLine(errorMessage(err))}`);
}

/** Eta's messages go on with the generated template code, which helps nobody in a log line. */
function firstLine(message: string): string {
  return message.split('\n').find((l) => l.trim() !== '')?.trim() ?? message;
}
