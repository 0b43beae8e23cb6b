/**
 * Eta, rendering the main template by parts. A template included with one
 * backend's view (`include('@backend', b)`) is rendered once per view object
 * and kept: an unchanged backend keeps its view object from one sync to the
 * next, so a change re-renders only the backends it touches. The config is
 * then the main template's own output with each backend's text in its place,
 * and its digest is made from the parts' digests, so neither costs more than
 * the parts that changed.
 *
 * A backend's text may depend on its own view and the settings seen by every
 * template (node, process, binds…), not on other backends: `it.backends` is
 * not read from a backend's template.
 */
import { createHash } from 'node:crypto';
import { Eta } from 'eta/core';
import { haproxyWord } from './escape.ts';
import type { BackendView, TemplateView } from './render.ts';

type Data = Readonly<Record<string, unknown>>;
type RenderFn = Eta['render'];
type Plain = (template: string, data: object) => string;

interface Part {
  readonly text: string;
  readonly digest: string;
}

/** Stands for one backend's text in the main template's output; never part of a config. */
const MARK = '\u0000';

export class PartRenderer extends Eta {
  /** Per included template, the text of each backend view rendered with it, for the settings in `context`. */
  private parts = new Map<string, WeakMap<BackendView, Part>>();
  private context = '';
  /** During a render of the main template: the backends by name, and the parts met, in output order. */
  private current: { view: TemplateView; byName: Map<string, BackendView>; out: Part[] } | null = null;
  private depth = 0;
  /** Eta's own render, for the main template (whose includes are the parts). */
  private readonly plain: Plain;
  private readonly main: string;

  constructor(main: string) {
    super({ autoEscape: true, escapeFunction: haproxyWord, autoTrim: false, useWith: false, cache: true });
    // Eta defines render as an instance field, which templates call for every include.
    this.main = main;
    const eta = this.render.bind(this) as (template: Parameters<RenderFn>[0], data: object, options?: Parameters<RenderFn>[2]) => string;
    this.plain = (template, data) => eta(template, data);
    this.render = ((template: Parameters<RenderFn>[0], data: object, options?: Parameters<RenderFn>[2]) => this.renderPart(eta, template, data as Data, options)) as RenderFn;
  }

  renderConfig(view: TemplateView): { text: string; digest: string } {
    this.enter(view);
    try {
      const skeleton = tidy(this.plain(this.main, view));
      const out = this.current?.out ?? [];
      const pieces = skeleton.split(MARK);
      // A template that writes the mark itself: render in one piece rather than guess.
      if (pieces.length !== out.length + 1) return this.whole(view);
      const digest = createHash('sha256');
      const text: string[] = [];
      for (const [i, piece] of pieces.entries()) {
        text.push(piece);
        digest.update(piece).update(MARK);
        const part = out[i];
        if (part) {
          text.push(part.text);
          digest.update(part.digest);
        }
      }
      const config = text.join('');
      // An empty part leaves the blank lines around it to collapse.
      return { text: out.some((p) => p.text === '') ? tidy(config) : config, digest: digest.digest('hex') };
    } finally {
      this.current = null;
    }
  }

  /** Renders what the main template would include for each of `backends`, and keeps it. */
  prerender(view: TemplateView, backends: readonly BackendView[]): void {
    const some = { ...view, backends };
    this.enter(some);
    try {
      // The main template's own output is not needed: only the parts it includes are kept.
      this.plain(this.main, some);
    } finally {
      this.current = null;
    }
  }

  private enter(view: TemplateView): void {
    const context = JSON.stringify({ ...view, backends: null });
    if (context !== this.context) {
      this.parts = new Map();
      this.context = context;
    }
    this.current = { view, byName: new Map(view.backends.map((b) => [b.name, b])), out: [] };
  }

  private renderPart(plain: (template: Parameters<RenderFn>[0], data: object, options?: Parameters<RenderFn>[2]) => string, template: Parameters<RenderFn>[0], data: Data, options: Parameters<RenderFn>[2]): string {
    const backend = typeof template === 'string' && this.depth === 0 ? this.backendOf(data) : null;
    if (!backend || !this.current || typeof template !== 'string') return this.nested(() => plain(template, data, options));
    let kept = this.parts.get(template);
    if (!kept) this.parts.set(template, (kept = new WeakMap()));
    let part = kept.get(backend);
    if (!part) {
      const text = tidy(this.nested(() => plain(template, data, options))).trim();
      part = { text, digest: createHash('sha256').update(text).digest('hex') };
      kept.set(backend, part);
    }
    this.current.out.push(part);
    return MARK;
  }

  private nested(fn: () => string): string {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  /** The backend view `data` was made from by an include, when it is exactly the main view with that backend's fields over it. */
  private backendOf(data: Data): BackendView | null {
    const current = this.current;
    if (!current || this.depth !== 0 || typeof data['name'] !== 'string') return null;
    const backend = current.byName.get(data['name']);
    if (!backend) return null;
    const main = current.view as unknown as Data;
    const own = backend as unknown as Data;
    for (const key of Object.keys(data)) {
      if (data[key] !== (Object.hasOwn(own, key) ? own[key] : main[key])) return null;
    }
    return backend;
  }

  private whole(view: TemplateView): { text: string; digest: string } {
    this.current = null;
    const text = tidy(this.plain(this.main, view));
    return { text, digest: createHash('sha256').update(text).digest('hex') };
  }
}

/** Collapses runs of blank lines that template control flow leaves behind. */
export function tidy(text: string): string {
  return `${text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
