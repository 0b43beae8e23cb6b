/**
 * Eta, rendering the main template by parts. A template included with one
 * backend's view (`include('@backend', b)`) is rendered once per view object
 * and kept: an unchanged backend keeps its view object from one sync to the
 * next, so a change re-renders only the backends it touches.
 *
 * When only what the slots hold changed since the last render (the planner's
 * runtime case), the main template is not run again: the changed backends'
 * parts take the places of the old ones. The config text is joined only when
 * someone reads it, and its digest is updated part by part, so a sync costs
 * what changed, not the size of the config.
 *
 * A backend's text may depend on its own view and the settings seen by every
 * template (node, process, binds…), not on other backends: `it.backends` is
 * not read from a backend's template.
 */
import { createHash } from 'node:crypto';
import { Eta } from 'eta/core';
import { haproxyWord } from './escape.ts';
import type { BackendView, TemplateView } from './render.ts';
import { changedBackend } from './view-compare.ts';

type Data = Readonly<Record<string, unknown>>;
type RenderFn = Eta['render'];
type EtaRender = (template: Parameters<RenderFn>[0], data: object, options?: Parameters<RenderFn>[2]) => string;

interface Part {
  readonly text: string;
  /** sha256 of the text. */
  readonly digest: Buffer;
}

/** One place in the main template's output filled by a part: the template included, and the backend it was given. */
interface Slot {
  readonly template: string;
  readonly backend: BackendView;
}

/** What the last render made: enough to render the next one by substituting parts. */
interface Layout {
  readonly view: TemplateView;
  /** The main template's own output, around the parts: one more piece than parts. */
  readonly pieces: readonly string[];
  readonly slots: readonly Slot[];
  readonly parts: readonly Part[];
  /** XOR of every place's digest (its position and its part's digest): changes with each part, in O(1). */
  readonly mix: Buffer;
  readonly piecesDigest: string;
  /** Where each backend's parts are; updated in place as layouts follow one another. */
  readonly positions: Map<BackendView, number[]>;
}

/** The rendered config: its text on first read, its digest at once. */
export interface RenderedConfig {
  readonly digest: string;
  text(): string;
}

/** Stands for one backend's text in the main template's output; never part of a config. */
const MARK = '\u0000';

export class PartRenderer extends Eta {
  /** Per included template, the part rendered for each backend view, for the settings in `context`. */
  private parts = new Map<string, WeakMap<BackendView, Part>>();
  private context = '';
  private last: Layout | null = null;
  /** During a full render of the main template: its view and the places met, in output order. */
  private current: { view: TemplateView; slots: Slot[]; parts: Part[] } | null = null;
  /** The backends of the last render by name; kept from one render to the next, as most stay. */
  private byName = new Map<string, BackendView>();
  private depth = 0;
  private readonly eta: EtaRender;
  private readonly main: string;

  constructor(main: string) {
    super({ autoEscape: true, escapeFunction: haproxyWord, autoTrim: false, useWith: false, cache: true });
    this.main = main;
    // Eta defines render as an instance field, which templates call for every include.
    this.eta = this.render.bind(this) as EtaRender;
    this.render = ((template: Parameters<RenderFn>[0], data: object, options?: Parameters<RenderFn>[2]) => this.include(template, data as Data, options)) as RenderFn;
  }

  renderConfig(view: TemplateView): RenderedConfig {
    this.setContext(view);
    const last = this.last;
    let layout: Layout;
    try {
      layout = last && last.view.backends.length === view.backends.length && changedBackend(last.view.backends, view.backends) === null
        ? this.substitute(last, view)
        : this.full(view);
    } catch (err) {
      // A substitution cut short leaves the last layout's index half moved.
      this.last = null;
      throw err;
    }
    this.last = layout;
    return configOf(layout);
  }

  /** Renders what the main template would include for each of `backends`, and keeps it. */
  prerender(view: TemplateView, backends: readonly BackendView[]): void {
    const some = { ...view, backends };
    this.setContext(some);
    this.track(some);
    this.current = { view: some, slots: [], parts: [] };
    try {
      // The main template's own output is not needed: only the parts it includes are kept.
      this.eta(this.main, some);
    } finally {
      this.current = null;
    }
  }

  private setContext(view: TemplateView): void {
    const context = JSON.stringify({ ...view, backends: null });
    if (context === this.context) return;
    this.parts = new Map();
    this.context = context;
    this.last = null;
  }

  private full(view: TemplateView): Layout {
    this.track(view);
    this.current = { view, slots: [], parts: [] };
    try {
      const skeleton = tidy(this.eta(this.main, view));
      const { slots, parts } = this.current;
      const pieces = skeleton.split(MARK);
      // A template that writes the mark itself: one piece holding everything, rather than a guess.
      if (pieces.length !== parts.length + 1) return layoutOf(view, [this.whole(view)], [], []);
      return layoutOf(view, pieces, slots, parts);
    } finally {
      this.current = null;
    }
  }

  /** The last layout with the parts of backends whose slots changed rendered again. */
  private substitute(last: Layout, view: TemplateView): Layout {
    const changed: Array<[BackendView, BackendView]> = [];
    for (let i = 0; i < view.backends.length; i++) {
      const before = last.view.backends[i];
      const after = view.backends[i];
      if (before && after && before !== after) changed.push([before, after]);
    }
    if (changed.length === 0) return { ...last, view };
    // A backend the main template did not include as a part (written inline, say): only a full render knows its text.
    if (changed.some(([before]) => !last.positions.has(before))) return this.full(view);
    const slots = [...last.slots];
    const parts = [...last.parts];
    const mix = Buffer.from(last.mix);
    for (const [before, after] of changed) {
      const at = last.positions.get(before) ?? [];
      for (const i of at) {
        const template = slots[i]?.template ?? '';
        const part = this.part(template, after, { ...view, ...after }, undefined);
        mixIn(mix, i, parts[i]);
        mixIn(mix, i, part);
        slots[i] = { template, backend: after };
        parts[i] = part;
      }
      // Only the newest layout is ever substituted from: its index moves along.
      last.positions.delete(before);
      last.positions.set(after, at);
    }
    return { view, pieces: last.pieces, slots, parts, mix, piecesDigest: last.piecesDigest, positions: last.positions };
  }

  private track(view: TemplateView): void {
    if (this.byName.size > 2 * view.backends.length) this.byName = new Map();
    for (const b of view.backends) if (this.byName.get(b.name) !== b) this.byName.set(b.name, b);
  }

  private include(template: Parameters<RenderFn>[0], data: Data, options: Parameters<RenderFn>[2]): string {
    const backend = typeof template === 'string' ? this.backendOf(data) : null;
    if (!backend || !this.current || typeof template !== 'string') return this.nested(() => this.eta(template, data, options));
    const part = this.part(template, backend, data, options);
    this.current.slots.push({ template, backend });
    this.current.parts.push(part);
    return MARK;
  }

  private part(template: string, backend: BackendView, data: Data, options: Parameters<RenderFn>[2]): Part {
    let kept = this.parts.get(template);
    if (!kept) this.parts.set(template, (kept = new WeakMap()));
    let part = kept.get(backend);
    if (!part) {
      const text = tidy(this.nested(() => this.eta(template, data, options))).trim();
      part = { text, digest: createHash('sha256').update(text).digest() };
      kept.set(backend, part);
    }
    return part;
  }

  private nested(fn: () => string): string {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  /** The backend view `data` was made from by an include from the main template: exactly the main view with that backend's fields over it. */
  private backendOf(data: Data): BackendView | null {
    const current = this.current;
    if (!current || this.depth !== 0 || typeof data['name'] !== 'string') return null;
    const backend = this.byName.get(data['name']);
    if (!backend) return null;
    const main = current.view as unknown as Data;
    const own = backend as unknown as Data;
    for (const key of Object.keys(data)) {
      if (data[key] !== (Object.hasOwn(own, key) ? own[key] : main[key])) return null;
    }
    return backend;
  }

  private whole(view: TemplateView): string {
    this.current = null;
    return tidy(this.eta(this.main, view));
  }
}

function layoutOf(view: TemplateView, pieces: readonly string[], slots: readonly Slot[], parts: readonly Part[]): Layout {
  const mix = Buffer.alloc(32);
  for (const [i, part] of parts.entries()) mixIn(mix, i, part);
  const positions = new Map<BackendView, number[]>();
  for (const [i, slot] of slots.entries()) {
    const at = positions.get(slot.backend);
    if (at) at.push(i);
    else positions.set(slot.backend, [i]);
  }
  return { view, pieces, slots, parts, mix, piecesDigest: createHash('sha256').update(pieces.join(MARK)).digest('hex'), positions };
}

/** XORs a place's digest into `mix` (or out of it: XOR is its own inverse). */
function mixIn(mix: Buffer, index: number, part: Part | undefined): void {
  if (!part) return;
  const place = createHash('sha256').update(`${index}:`).update(part.digest).digest();
  for (let i = 0; i < 32; i++) mix[i] = (mix[i] ?? 0) ^ (place[i] ?? 0);
}

function configOf(layout: Layout): RenderedConfig {
  let text: string | null = null;
  const { pieces, parts } = layout;
  return {
    digest: createHash('sha256').update(layout.piecesDigest).update(layout.mix).digest('hex'),
    text(): string {
      if (text !== null) return text;
      const out: string[] = [];
      for (let i = 0; i < pieces.length; i++) {
        out.push(pieces[i] ?? '');
        const part = parts[i];
        if (part) out.push(part.text);
      }
      const joined = out.join('');
      // An empty part leaves the blank lines around it to collapse.
      text = parts.some((p) => p.text === '') ? tidy(joined) : joined;
      return text;
    },
  };
}

/** Collapses runs of blank lines that template control flow leaves behind. */
function tidy(text: string): string {
  return `${text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
