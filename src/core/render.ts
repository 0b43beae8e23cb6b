/**
 * Desired state → haproxy.cfg text and map files, through Eta templates.
 * Every interpolation goes through haproxyWord, which refuses unsafe values.
 * Same input, byte-identical output.
 */
import { Eta } from 'eta/core';
import { SyncError, errorMessage } from '../errors.ts';
import { haproxyWord } from './escape.ts';
import { PLAIN_PROCESS, type DesiredState, type ProcessSettings, type RenderSettings, type Rendered, type Slot, type TemplatesSnapshot } from './model.ts';
import { endpointKey, type Layout } from './slots.ts';

export const MAIN_TEMPLATE = 'haproxy.cfg.eta';
export const HOSTS_MAP = 'hosts.map';
export const WILDCARDS_MAP = 'wildcards.map';

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
  readonly slots: readonly SlotView[];
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
  readonly backends: readonly BackendView[];
}

/** The pages Debian's haproxy package ships in /etc/haproxy/errors. */
const ERROR_PAGES = [400, 403, 408, 500, 502, 503, 504];

const compiled = new WeakMap<TemplatesSnapshot, Eta>();

export function render(desired: DesiredState, layout: Layout, settings: RenderSettings, templates: TemplatesSnapshot): Rendered {
  return renderView(templateView(desired, layout, settings), desired, templates);
}

/** Renders a view already built (the planner compares views before anything is rendered). */
export function renderView(view: TemplateView, desired: DesiredState, templates: TemplatesSnapshot): Rendered {
  const eta = compile(templates);
  let config: string;
  try {
    config = eta.render(`@${MAIN_TEMPLATE}`, view);
  } catch (err) {
    throw templateError(templates, err);
  }
  return { config: tidy(config), maps: renderMaps(desired) };
}

export function mapPath(settings: Pick<RenderSettings, 'mapsDir'>, file: string): string {
  return `${settings.mapsDir.replace(/\/+$/, '')}/${file}`;
}

/** Everything a template can see; the config is a function of this and the template files alone. */
export function templateView(desired: DesiredState, layout: Layout, settings: RenderSettings): TemplateView {
  const backends = desired.vhosts.flatMap((v) =>
    v.backends.map((b) => ({
      name: b.name,
      host: b.host,
      colour: b.colour,
      balance: b.balance,
      healthPath: b.healthPath,
      slots: slotViews(layout[b.name] ?? []),
    })),
  );
  return {
    node: settings.node,
    adminSocket: settings.adminSocket,
    serverStateFile: settings.serverStateFile ?? null,
    process: settings.process ?? PLAIN_PROCESS,
    errorCodes: ERROR_PAGES,
    bind: settings.bind,
    maps: { hosts: mapPath(settings, HOSTS_MAP), wildcards: mapPath(settings, WILDCARDS_MAP) },
    backends,
  };
}

// An unchanged backend keeps its slot list from one sync to the next; so does its view, which spares the planner a comparison.
const slotViewCache = new WeakMap<readonly Slot[], readonly SlotView[]>();

function slotViews(slots: readonly Slot[]): readonly SlotView[] {
  let views = slotViewCache.get(slots);
  if (!views) {
    views = slots.map((s) => ({ name: s.name, address: s.endpoint ? endpointKey(s.endpoint) : '0.0.0.0:0', enabled: s.endpoint !== null }));
    slotViewCache.set(slots, views);
  }
  return views;
}

/** Host → live backend. Exact hosts in one map; wildcards by suffix, longest first so the most specific wins. */
export function renderMaps(desired: DesiredState): Record<string, string> {
  const exact: string[] = [];
  const wildcard: Array<[string, string]> = [];
  for (const v of desired.vhosts) {
    const live = v.backends.find((b) => b.colour === v.active);
    if (!live) continue;
    if (v.host.startsWith('*.')) wildcard.push([v.host.slice(1), live.name]);
    else exact.push(`${v.host} ${live.name}\n`);
  }
  wildcard.sort(([a], [b]) => b.length - a.length || (a < b ? -1 : 1));
  return { [HOSTS_MAP]: exact.join(''), [WILDCARDS_MAP]: wildcard.map(([k, v]) => `${k} ${v}\n`).join('') };
}

function compile(templates: TemplatesSnapshot): Eta {
  const cached = compiled.get(templates);
  if (cached) return cached;
  if (templates.files[MAIN_TEMPLATE] === undefined) {
    throw new SyncError('TEMPLATE_INVALID', `template directory ${templates.dir} has no ${MAIN_TEMPLATE}`);
  }
  const eta = new Eta({ autoEscape: true, escapeFunction: haproxyWord, autoTrim: false, useWith: false, cache: true });
  for (const [name, text] of Object.entries(templates.files)) {
    try {
      eta.loadTemplate(`@${name}`, text);
      if (name.endsWith('.eta')) eta.loadTemplate(`@${name.slice(0, -4)}`, text);
    } catch (err) {
      throw new SyncError('TEMPLATE_INVALID', `template ${templates.dir}/${name}: ${firstLine(errorMessage(err))}`);
    }
  }
  compiled.set(templates, eta);
  return eta;
}

function templateError(templates: TemplatesSnapshot, err: unknown): SyncError {
  if (err instanceof SyncError) return new SyncError(err.code, `templates in ${templates.dir}: ${err.message}`);
  return new SyncError('TEMPLATE_INVALID', `templates in ${templates.dir}: ${firstLine(errorMessage(err))}`);
}

/** Eta's messages go on with the generated template code, which helps nobody in a log line. */
function firstLine(message: string): string {
  return message.split('\n').find((l) => l.trim() !== '')?.trim() ?? message;
}

/** Collapses runs of blank lines that template control flow leaves behind. */
function tidy(text: string): string {
  return `${text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
