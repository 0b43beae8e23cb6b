// @ts-check
/**
 * Flipping from the page, through the same API as `haproxy-sync flip`:
 * ask for a reason, show the health gate's refusal with the failing
 * servers, offer force only after a second confirmation, then follow the
 * flip's ledger entry as each load balancer confirms it.
 */
import { call, get } from './api.js';
import { byId, h, table } from './dom.js';
import { confirmations } from './render.js';

/** @typedef {import('./types.js').History} History */

/** How long the page follows a flip's confirmations. */
const FOLLOW_MS = 30000;

export class FlipDialog {
  constructor() {
    this.dialog = /** @type {HTMLDialogElement} */ (byId('flip-dialog'));
    this.form = /** @type {HTMLFormElement} */ (byId('flip-form'));
    this.reason = /** @type {HTMLInputElement} */ (byId('flip-reason'));
    this.result = byId('flip-result');
    this.force = byId('flip-force');
    this.forceConfirm = byId('flip-force-confirm');
    this.submit = /** @type {HTMLButtonElement} */ (byId('flip-submit'));
    /** @type {{ host: string, from: string, to: string } | null} */
    this.target = null;
    /** Bumped on every open and close, so a follow loop of an earlier flip stops. */
    this.generation = 0;
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.send(false);
    });
    byId('flip-force-ask').addEventListener('click', () => {
      this.forceConfirm.hidden = false;
      byId('flip-force-yes').focus();
    });
    byId('flip-force-yes').addEventListener('click', () => void this.send(true));
    byId('flip-close').addEventListener('click', () => this.close());
    this.dialog.addEventListener('close', () => this.generation++);
  }

  /**
   * @param {string} host
   * @param {string} from
   * @param {string} to
   */
  open(host, from, to) {
    this.generation++;
    this.target = { host, from, to };
    byId('flip-title').textContent = `Flip ${host} from ${from} to ${to}`;
    this.reason.value = '';
    this.reason.disabled = false;
    this.submit.disabled = false;
    this.submit.hidden = false;
    this.result.replaceChildren();
    this.force.hidden = true;
    this.forceConfirm.hidden = true;
    this.dialog.showModal();
    this.reason.focus();
  }

  close() {
    this.generation++;
    if (this.dialog.open) this.dialog.close();
  }

  /** @param {boolean} force */
  async send(force) {
    const target = this.target;
    if (!target) return;
    const generation = ++this.generation;
    this.submit.disabled = true;
    this.result.replaceChildren(h('p', {}, force ? 'Forcing the flip…' : 'Checking health and flipping…'));
    const reason = this.reason.value.trim();
    let res;
    try {
      res = await call('POST', `/v1/vhosts/${encodeURIComponent(target.host)}/flip`, { to: target.to, expect: target.from, force, wait: false, ...(reason ? { reason } : {}) });
    } catch (err) {
      this.result.replaceChildren(h('p', { class: 'error' }, `The flip could not be sent: ${err instanceof Error ? err.message : String(err)}`));
      this.submit.disabled = false;
      return;
    }
    if (res.status === 200) return this.follow(target.host, res.body, generation);
    this.submit.disabled = false;
    const error = res.body?.error ?? {};
    const failing = Array.isArray(error.failing) ? error.failing : [];
    this.result.replaceChildren(
      h('p', { class: 'error refusal' }, h('strong', {}, `Refused (${error.code ?? `HTTP ${res.status}`}): `), String(error.message ?? '')),
      ...(failing.length > 0
        ? [table('failing servers', ['server', 'address', 'status', 'last check'], failing.map((/** @type {any} */ s) => [String(s.name), String(s.address), String(s.status), String(s.check || '-')]))]
        : []),
    );
    if (error.code === 'FLIP_UNHEALTHY') {
      this.force.hidden = false;
      this.forceConfirm.hidden = true;
    }
  }

  /**
   * Shows the flip's ledger entry until every load balancer has served it.
   * @param {string} host
   * @param {{ revision: number, changed: boolean, from: string, to: string }} answer
   * @param {number} generation
   */
  async follow(host, answer, generation) {
    this.force.hidden = true;
    this.submit.hidden = true;
    this.reason.disabled = true;
    const head = h('p', { class: 'ok' }, answer.changed ? `Written at etcd revision ${answer.revision}: ${answer.from} → ${answer.to}.` : `${answer.to} was already live.`);
    const progress = h('div', { class: 'progress' }, h('p', {}, 'Waiting for the load balancers…'));
    this.result.replaceChildren(head, progress);
    if (!answer.changed) return;
    const until = Date.now() + FOLLOW_MS;
    while (generation === this.generation && Date.now() < until) {
      try {
        /** @type {History} */
        const history = await get(`/v1/vhosts/${encodeURIComponent(host)}/history?limit=10`);
        const entry = history.entries.find((e) => e.revision === answer.revision);
        if (entry && generation === this.generation) {
          progress.replaceChildren(h('p', {}, 'Load balancers:'), confirmations(entry));
          if (entry.nodes.every((n) => n.state === 'served' || n.state === 'late' || n.state === 'missed')) return;
        }
      } catch (err) {
        progress.replaceChildren(h('p', { class: 'error' }, err instanceof Error ? err.message : String(err)));
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
