// Error codes: stable, documented, carried by SyncError.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, SyncError, errorCode, errorMessage, type ErrorCode } from '../../src/errors.ts';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

/** The text of the README's "Error codes" section (up to the next heading of the same or a higher level), or null. */
function errorCodesSection(text: string): string | null {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^#{1,6}\s+error codes\b/i.test(l));
  if (start === -1) return null;
  const level = /^(#+)/.exec(lines[start] ?? '')?.[1]?.length ?? 1;
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => {
    const m = /^(#{1,6})\s/.exec(l);
    return m !== null && (m[1]?.length ?? 7) <= level;
  });
  return (end === -1 ? rest : rest.slice(0, end)).join('\n');
}

t.test('error codes are upper-case identifiers with a description', async (t) => {
  t.ok(codes.length > 0);
  for (const code of codes) {
    t.match(code, /^[A-Z][A-Z0-9_]*$/, code);
    t.ok(ERROR_CODES[code].length > 20, `${code} is described`);
  }
});

const readme = existsSync(README) ? readFileSync(README, 'utf8') : null;
const section = readme === null ? null : errorCodesSection(readme);

if (section === null) {
  t.test('every error code is documented in the README "Error codes" section', { todo: 'README error-code section not written yet' }, async (t) => {
    t.ok(section, 'README.md has an "Error codes" section');
  });
} else {
  t.test('every error code is documented in the README "Error codes" section', async (t) => {
    for (const code of codes) t.match(section, new RegExp(`\\b${code}\\b`), `${code} is in the README`);
  });
}

t.test('errorCodesSection finds the section and stops at the next heading', async (t) => {
  const doc = '# Tool\n\n## Error codes\n\n| code |\n| CONFIG_INVALID |\n\n### Details\nUSAGE\n\n## Other\nSPEC_INVALID\n';
  const s = errorCodesSection(doc) ?? '';
  t.match(s, /CONFIG_INVALID/);
  t.match(s, /USAGE/, 'subsections belong to it');
  t.notMatch(s, /SPEC_INVALID/, 'the next section does not');
  t.equal(errorCodesSection('# Tool\n\nno codes\n'), null);
});

t.test('SyncError carries its code', async (t) => {
  const cause = new Error('inner');
  const err = new SyncError('CONFIG_INVALID', 'config file x: y: bad', { cause });
  t.type(err, Error);
  t.equal(err.name, 'SyncError');
  t.equal(err.code, 'CONFIG_INVALID');
  t.equal(err.message, 'config file x: y: bad');
  t.equal(err.cause, cause);
  t.equal(errorCode(err), 'CONFIG_INVALID');
  t.equal(errorMessage(err), 'config file x: y: bad');
});

t.test('errorCode and errorMessage on anything', async (t) => {
  t.equal(errorCode(new Error('x')), 'INTERNAL');
  t.equal(errorCode(Object.assign(new Error('x'), { code: 'ENOENT' })), 'ENOENT');
  t.equal(errorCode({ code: 7 }), 'INTERNAL');
  t.equal(errorCode(null), 'INTERNAL');
  t.equal(errorCode('boom'), 'INTERNAL');
  t.equal(errorMessage('boom'), 'boom');
  t.equal(errorMessage(42), '42');
  t.equal(errorMessage(new TypeError('bad type')), 'bad type');
});
