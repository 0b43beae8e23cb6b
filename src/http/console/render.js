// @ts-check
/**
 * Turns the API's answers into the page: vhosts with their colours and
 * servers, the load balancers, problems, applies and each vhost's ledger.
 * Status is always written out as text (UP, DOWN, LIVE, behind), colour
 * only repeats it.
 */
import { h, table } from './dom.js';
import { when } from './time.js';

/** @typedef {import('./types.js').VHostsView} VHostsView */
/** @typedef {import('./types.js').VHost} VHost */
/** @typedef {import('./types.js').Backend} Backend */
/** @typedef {import('./types.js').Certificate} Certificate */
/** @typedef {import('./types.js').History} History */
/** @typedef {import('./types.js').LedgerEntry} LedgerEntry */
/** @typedef {(host: string, from: string, to: string) => void} OnFlip */
/** @typedef {{ onFlip: OnFlip, ledgerOpen: (host: string) => boolean, onLedgerToggle: (host: string, open: boolean) => void }} Actions */

/**
 * @param {VHostsView} view
 * @param {Map<string, History | string>} histories
 * @param {Actions} actions
 * @returns {{ problems: Node, vhosts: Node, nodes: Node, applies: Node }}
 */
export function renderView(view, histories, actions) {
  return {
    problems: problemsOf(view),
    vhosts: view.vhosts.length === 0 ? h('p', {}, 'No vhosts in etcd yet.') : h('div', { class: 'vhosts' }, ...view.vhosts.map((v) => vhostCard(v, view, histories.get(v.host), actions))),
    nodes: nodesTable(view),
    applies: appliesTable(view),
  };
}

/** @param {VHostsView} view */
function problemsOf(view) {
  const all = [...view.problems, ...view.vhosts.flatMap((v) => v.problems)];
  const errors = view.errors.map((e) => h('li', { class: 'problem' }, h('strong', {}, 'INCOMPLETE '), e));
  if (all.length === 0 && errors.length === 0) return h('p', { class: 'ok' }, 'None.');
  return h('ul', { class: 'problems' }, ...errors, ...all.map((p) => h('li', { class: 'problem' }, h('strong', {}, `${p.code} `), h('code', {}, p.source), `: ${p.message}`)));
}

/**
 * @param {VHost} v
 * @param {VHostsView} view
 * @param {History | string | undefined} history
 * @param {Actions} actions
 */
function vhostCard(v, view, history, actions) {
  const live = v.active ?? null;
  return h(
    'article',
    { class: 'vhost', 'data-host': v.host, 'aria-labelledby': `vh-${v.host}` },
    h('h3', { id: `vh-${v.host}` }, v.host, ' ', live ? h('span', { class: `badge live c-${colourClass(live)}` }, `live: ${live}`) : h('span', { class: 'badge bad' }, 'not served')),
    v.problems.length > 0 ? h('ul', { class: 'problems' }, ...v.problems.map((p) => h('li', { class: 'problem' }, h('strong', {}, `${p.code} `), h('code', {}, p.source), `: ${p.message}`))) : null,
    v.certificate ? certificateLine(v.certificate) : null,
    h('div', { class: 'colours' }, ...v.backends.map((b) => colourPanel(v, b, actions.onFlip))),
    fleetLine(v, view),
    ledger(v.host, history, actions),
  );
}

/** The certificate HTTPS serves: serial, expiry (with days left, a warning under 14), where it comes from. */
/** @param {Certificate} c */
function certificateLine(c) {
  const days = Math.floor((Date.parse(c.notAfter) - Date.now()) / 86400000);
  const soon = days < 14;
  return h(
    'p',
    { class: 'certificate' },
    'HTTPS certificate ',
    h('code', {}, c.serial),
    ` · expires ${c.notAfter.slice(0, 10)} (${days < 0 ? 'expired' : `in ${days} days`}) `,
    soon ? h('span', { class: 'badge bad' }, 'expires soon') : null,
    c.kept ? h('span', { class: 'badge bad' }, 'last good kept') : null,
    ` · ${c.source}`,
  );
}

/**
 * @param {VHost} v
 * @param {Backend} b
 * @param {OnFlip} onFlip
 */
function colourPanel(v, b, onFlip) {
  const button = h('button', { type: 'button', class: 'flip', id: `flip-${v.host}-${b.colour}`, disabled: b.live || v.active === null }, b.live ? `${b.colour} is live` : `Flip to ${b.colour}…`);
  if (!b.live && v.active !== null) {
    const from = v.active;
    button.addEventListener('click', () => onFlip(v.host, from, b.colour));
  }
  const servers = b.servers.map((s) => [h('span', {}, s.name), h('code', {}, s.address), statusText(s.up, s.pending, s.status), s.check || '-']);
  return h(
    'section',
    { class: `colour c-${colourClass(b.colour)}${b.live ? ' is-live' : ''}`, 'data-colour': b.colour, 'aria-label': `${v.host} ${b.colour}` },
    h('h4', {}, b.colour, b.live ? h('span', { class: 'badge live' }, 'LIVE') : null),
    h('p', { class: 'meta' }, 'Service ', h('code', {}, `${b.service}:${b.port}`), ` · ${b.ready} ready · `, h('strong', { class: b.up >= b.minReady ? 'up' : 'down' }, `${b.up}/${b.ready} up`), ` (needs ${b.minReady})`),
    servers.length > 0 ? table(`${b.colour} servers`, ['server', 'address', 'status', 'last check'], servers) : h('p', { class: 'down' }, 'No servers.'),
    button,
  );
}

/**
 * @param {boolean} up
 * @param {boolean} pending
 * @param {string} status
 */
function statusText(up, pending, status) {
  const word = up ? 'UP' : pending ? 'UNCHECKED' : 'DOWN';
  return h('span', { class: `status ${up ? 'up' : pending ? 'pending' : 'down'}` }, word, status && status !== word ? h('span', { class: 'raw' }, ` (${status})`) : null);
}

/**
 * Which colour each load balancer serves, and whether it is behind this node.
 * @param {VHost} v
 * @param {VHostsView} view
 */
function fleetLine(v, view) {
  const items = v.nodes.map((n) => {
    const behind = n.active !== v.active || n.revision < (v.revision ?? 0);
    // A node serving another certificate than this one is named, so a fleet split by a renewal shows.
    const otherCert = v.certificate && n.certificateSerial !== undefined && n.certificateSerial !== v.certificate.serial;
    return h(
      'li',
      { class: behind ? 'behind' : 'in-step' },
      h('strong', {}, n.node),
      `: ${n.active ?? 'nothing'}`,
      behind ? h('span', { class: 'badge bad' }, 'behind') : h('span', { class: 'badge ok' }, 'in step'),
      otherCert ? h('span', { class: 'badge bad' }, `certificate ${n.certificateSerial ?? 'none'}`) : null,
    );
  });
  return h('div', { class: 'fleet' }, h('h4', {}, 'Load balancers'), items.length > 0 ? h('ul', {}, ...items) : h('p', {}, `No live node keys (this node: ${view.node}).`));
}

/**
 * The vhost's ledger, folded away unless opened: only open ledgers are read from the API.
 * @param {string} host
 * @param {History | string | undefined} history
 * @param {Actions} actions
 */
function ledger(host, history, actions) {
  const open = actions.ledgerOpen(host);
  const details = h('details', { class: 'ledger', 'data-host': host, open }, h('summary', { id: `ledger-${host}` }, h('h4', {}, 'Ledger')), ledgerBody(host, open ? history : undefined));
  details.addEventListener('toggle', () => actions.onLedgerToggle(host, /** @type {HTMLDetailsElement} */ (details).open));
  return details;
}

/**
 * @param {string} host
 * @param {History | string | undefined} history
 */
function ledgerBody(host, history) {
  if (history === undefined) return h('p', {}, 'Loading…');
  if (typeof history === 'string') return h('p', { class: 'error' }, history);
  if (history.entries.length === 0) return h('p', {}, 'No flips recorded.');
  const rows = history.entries.map((e) => [when(e.at), `${e.from} → ${e.to}`, how(e), e.reason ?? '–', confirmations(e)]);
  return table(`${host} flips`, ['when', 'flip', 'how', 'reason', 'load balancers'], rows);
}

/** @param {LedgerEntry} e */
function how(e) {
  return h('span', {}, h('span', { class: `source source-${e.source}` }, e.source), e.forced ? h('span', { class: 'badge bad' }, 'forced') : null, e.actor ? h('span', { class: 'actor' }, ` ${e.actor}`) : null, ` · rev ${e.revision}`);
}

/** @param {LedgerEntry} e */
export function confirmations(e) {
  return h(
    'ul',
    { class: 'confirmations' },
    ...e.nodes.map((n) => {
      const text = n.servedAt === null ? (n.state === 'waiting' ? 'waiting' : `NOT within ${e.timeoutMs} ms`) : `${((Date.parse(n.servedAt) - Date.parse(e.at)) / 1000).toFixed(2)} s${n.state === 'late' ? ' (late)' : ''}`;
      return h('li', { class: `serving ${n.state}`, 'data-node': n.node }, h('strong', {}, n.node), ` ${n.servedAt === null ? '' : 'served +'}${text}`);
    }),
  );
}

/** @param {VHostsView} view */
function nodesTable(view) {
  if (view.nodes.length === 0) return h('p', {}, 'No live node keys in etcd.');
  const rows = view.nodes.map((n) => [
    h('span', {}, n.node, n.node === view.node ? ' (this node)' : ''),
    String(n.revision),
    n.revision < view.revision ? h('span', { class: 'badge bad' }, 'behind') : h('span', { class: 'badge ok' }, 'in step'),
    n.configHash ?? '-',
    n.appliedAt ? when(n.appliedAt) : 'never',
  ]);
  return table('load balancers', ['node', 'revision', 'state', 'config', 'applied'], rows);
}

/** @param {VHostsView} view */
function appliesTable(view) {
  if (view.applies.length === 0) return h('p', {}, 'Nothing applied since this daemon started, apart from no-ops.');
  const rows = view.applies.map((a) => [
    when(a.at),
    a.ok ? h('span', { class: 'up' }, 'OK') : h('span', { class: 'down' }, `FAILED ${a.code ?? ''}`),
    a.mode ?? '-',
    a.message ? `${a.reason}: ${a.message}` : a.reason,
    `${a.durationMs} ms`,
  ]);
  return table('applies', ['when', 'result', 'mode', 'reason', 'duration'], rows);
}

/**
 * Colour names are free-form; only a few get their own tint, the rest a neutral one.
 * @param {string} colour
 */
function colourClass(colour) {
  return ['blue', 'green', 'red', 'yellow', 'purple', 'orange'].includes(colour) ? colour : 'other';
}
