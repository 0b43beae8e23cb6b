// Error codes: stable, documented, carried by SyncError.
import t from 'tap';
import { ERROR_CODES, SyncError, errorCode, errorMessage, type ErrorCode } from '../../src/errors.ts';

// Their documentation is checked against docs/operator-guide.md in operator-guide.test.ts.
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

t.test('error codes are upper-case identifiers with a description', async (t) => {
  t.ok(codes.length > 0);
  for (const code of codes) {
    t.match(code, /^[A-Z][A-Z0-9_]*$/, code);
    t.ok(ERROR_CODES[code].length > 20, `${code} is described`);
  }
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
