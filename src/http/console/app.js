// @ts-check
/**
 * The console's entry: asks for the token when the API needs one, then
 * polls the API about once a second and redraws what changed, keeping the
 * keyboard focus where it was.
 */
import { get, setToken, token, Unauthorized } from './api.js';
import { byId } from './dom.js';
import { FlipDialog } from './flip.js';
import { renderView } from './render.js';
import { tick } from './time.js';

/** @typedef {import('./types.js').VHostsView} VHostsView */
/** @typedef {import('./types.js').History} History */

const POLL_MS = 1000;
const HISTORY_LIMIT = 10;
/** With more vhosts than this, ledgers start folded: each open one is one more request per poll. */
const OPEN_LEDGERS = 10;

const flip = new FlipDialog();
let lastDrawn = '';
let lastOk = 0;
/** @type {Map<string, boolean>} Whether each vhost's ledger is unfolded, as the operator left it. */
const ledgerOpen = new Map();
/** @type {ReturnType<typeof setTimeout> | null} */
let timer = null;

function showToken(/** @type {string} */ why) {
  byId('app').hidden = true;
  // Nothing read with an earlier token stays on the page.
  for (const id of ['problems', 'vhosts', 'nodes', 'applies']) byId(id).replaceChildren();
  lastDrawn = '';
  byId('where').textContent = '';
  byId('freshness').textContent = '';
  byId('token').hidden = false;
  byId('token-error').textContent = why;
  byId('token-input').focus();
}

async function refresh() {
  timer = null;
  try {
    /** @type {VHostsView} */
    const view = await get('/v1/vhosts');
    /** @type {Map<string, History | string>} */
    const histories = new Map();
    for (const v of view.vhosts) if (!ledgerOpen.has(v.host)) ledgerOpen.set(v.host, view.vhosts.length <= OPEN_LEDGERS);
    await Promise.all(
      view.vhosts.filter((v) => ledgerOpen.get(v.host)).map(async (v) => {
        try {
          histories.set(v.host, await get(`/v1/vhosts/${encodeURIComponent(v.host)}/history?limit=${HISTORY_LIMIT}`));
        } catch (err) {
          if (err instanceof Unauthorized) throw err;
          histories.set(v.host, err instanceof Error ? err.message : String(err));
        }
      }),
    );
    draw(view, histories);
    lastOk = Date.now();
    byId('fetch-error').hidden = true;
  } catch (err) {
    if (err instanceof Unauthorized) {
      if (token()) setToken(null);
      showToken(err.message === 'the token was refused' ? 'The token was refused.' : '');
      return;
    }
    const banner = byId('fetch-error');
    banner.textContent = `Cannot reach the daemon: ${err instanceof Error ? err.message : String(err)}. Showing what was last read.`;
    banner.hidden = false;
  }
  tick();
  byId('freshness').textContent = lastOk ? `updated ${Math.round((Date.now() - lastOk) / 1000)} s ago` : '';
  schedule();
}

function schedule() {
  if (timer === null) timer = setTimeout(() => void refresh(), POLL_MS);
}

/**
 * @param {VHostsView} view
 * @param {Map<string, History | string>} histories
 */
function draw(view, histories) {
  byId('token').hidden = true;
  byId('app').hidden = false;
  byId('where').textContent = `node ${view.node} · etcd revision ${view.revision}`;
  const drawn = JSON.stringify([view, [...histories]]);
  if (drawn === lastDrawn) return;
  lastDrawn = drawn;
  const focused = document.activeElement instanceof HTMLElement && document.activeElement.id ? document.activeElement.id : null;
  const parts = renderView(view, histories, {
    onFlip: (host, from, to) => flip.open(host, from, to),
    ledgerOpen: (host) => ledgerOpen.get(host) === true,
    onLedgerToggle: (host, open) => {
      if (ledgerOpen.get(host) === open) return;
      ledgerOpen.set(host, open);
      if (open && timer !== null) {
        clearTimeout(timer);
        void refresh();
      }
    },
  });
  byId('problems').replaceChildren(parts.problems);
  byId('vhosts').replaceChildren(parts.vhosts);
  byId('nodes').replaceChildren(parts.nodes);
  byId('applies').replaceChildren(parts.applies);
  if (focused) document.getElementById(focused)?.focus();
}

byId('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('token-input'));
  const value = input.value.trim();
  input.value = '';
  if (!value) return;
  setToken(value);
  byId('token-error').textContent = 'Checking…';
  if (timer !== null) clearTimeout(timer);
  void refresh();
});

void refresh();
