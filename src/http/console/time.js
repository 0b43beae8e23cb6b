// @ts-check
/** Times shown both ways: relative ("12 s ago") and absolute (local time, full ISO in the tooltip). */
import { h } from './dom.js';

/**
 * @param {number} ms
 * @returns {string}
 */
export function relative(ms) {
  const s = Math.round(ms / 1000);
  if (Math.abs(s) < 2) return 'just now';
  const [n, unit] = Math.abs(s) < 90 ? [s, 's'] : Math.abs(s) < 5400 ? [Math.round(s / 60), 'min'] : Math.abs(s) < 129600 ? [Math.round(s / 3600), 'h'] : [Math.round(s / 86400), 'd'];
  return n >= 0 ? `${n} ${unit} ago` : `in ${-n} ${unit}`;
}

/**
 * @param {string} iso
 * @returns {string}
 */
function absolute(iso) {
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

/**
 * A <time> whose relative text tick() keeps current.
 * @param {string} iso
 */
export function when(iso) {
  const el = h('time', { datetime: iso, title: iso }, relative(Date.now() - Date.parse(iso)));
  return h('span', { class: 'when' }, el, h('span', { class: 'abs' }, ` (${absolute(iso)})`));
}

/** Brings every relative time on the page up to date. */
export function tick() {
  for (const el of document.querySelectorAll('time[datetime]')) {
    const iso = el.getAttribute('datetime');
    if (iso) el.textContent = relative(Date.now() - Date.parse(iso));
  }
}
