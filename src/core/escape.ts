/**
 * The escape function templates use for every `<%= value %>`. HTML escaping
 * would be useless here; what a HAProxy config must never receive from data
 * is a character that ends a word or a line, starts a comment, or opens a
 * quote. Such a value is refused, never altered, so a bad value cannot turn
 * into a different but valid-looking config.
 */
import { SyncError } from '../errors.ts';
import { printable } from './validate.ts';

const SAFE_WORD = /^[A-Za-z0-9._:/[\]@%*+=,~^$!?()&|{}<>-]{1,1024}$/;

export function haproxyWord(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && SAFE_WORD.test(value)) return value;
  const shown = typeof value === 'string' ? `"${printable(value)}"` : String(value);
  throw new SyncError('TEMPLATE_INVALID', `a template tried to write ${shown} into haproxy.cfg; only single words without spaces, quotes, "#" or "\\" are allowed`);
}
