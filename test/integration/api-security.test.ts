import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import { startDaemon } from '../../src/commands/run.ts';
import { createLogger } from '../../src/log.ts';
import { PREFIX, blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { tmpDir } from '../helpers/tmp.ts';

const HOST = 'shop.example.com';
const TOKEN = 's3cret-token-value';

/** Every event under vhosts/ while `fn` runs: proof that a refused request wrote nothing. */
async function writesDuring(env: TestEnv, fn: () => Promise<void>): Promise<number> {
  let events = 0;
  const watcher = await env.client.watch().prefix(`${PREFIX}vhosts/`).create();
  watcher.on('put', () => events++);
  watcher.on('delete', () => events++);
  await fn();
  // A marker write after the requests: once its event arrives, every earlier event has too.
  const seen = new Promise<void>((resolve) => watcher.on('put', (kv) => kv.key.toString().endsWith('/marker') && resolve()));
  await env.put('vhosts/marker', 'x');
  await seen;
  await watcher.cancel();
  return events - 1;
}

/** A raw POST, for bodies fetch would not send as is (chunked, oversized). */
function rawPost(port: number, path: string, headers: Record<string, string>, chunks: readonly string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

t.test('with a token: a request without it or with a wrong one gets 401 and writes nothing; the right one flips', async (t) => {
  const dir = tmpDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const env = await startEnv(t, { config: { api: { tokenFile } } });
  const flips: string[] = [];
  await env.startDaemon({ onFlip: (r) => flips.push(r) });
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  const flip = (headers: Record<string, string>) => env.api('POST', `/v1/vhosts/${HOST}/flip`, { to: 'green' }, headers);

  const writes = await writesDuring(env, async () => {
    const missing = await flip({});
    t.equal(missing.status, 401);
    t.equal(missing.headers.get('www-authenticate'), 'Bearer');
    t.match(missing.body, { error: { code: 'UNAUTHORIZED', message: /Authorization: Bearer <token> header is required/ } });
    const wrong = await flip({ authorization: `Bearer ${TOKEN}x` });
    t.equal(wrong.status, 401);
    t.match(wrong.body, { error: { code: 'UNAUTHORIZED', message: /bearer token is wrong/ } });
    t.equal((await flip({ authorization: `Basic ${TOKEN}` })).status, 401, 'another scheme');
    t.equal((await flip({ authorization: 'Bearer ' })).status, 401, 'an empty token');
    t.equal((await env.api('GET', '/v1/vhosts')).status, 401, 'reads need the token too');
    t.equal((await env.api('GET', `/v1/vhosts/${HOST}/history`)).status, 401, 'the flip ledger too');
  });
  t.equal(writes, 0, 'nothing was written to etcd');
  t.match((await env.get(HOST)).body, /^blue/);
  t.equal((await env.api('GET', '/healthz')).status, 200, 'the probes stay open');
  const page = await env.apiText('/');
  t.equal(page.status, 200, 'the console page is open: it holds no data');
  t.notMatch(page.body, new RegExp(HOST.replace(/\./g, '\\.')), 'no vhost in it');
  t.match(page.headers, { 'content-security-policy': /^default-src 'none'; script-src 'self'/, 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
  t.match((await env.apiText('/console/app.js')).headers['content-type'], /^text\/javascript/);
  t.equal((await env.apiText('/console/..%2F..%2Fconfig.ts')).status, 404, 'only the console files are served');
  t.equal((await env.apiText('/console/tsconfig.json')).status, 404);

  const ok = await flip({ authorization: `Bearer ${TOKEN}` });
  t.equal(ok.status, 200, JSON.stringify(ok.body));
  await env.until(HOST, { body: 'green' });
  t.equal((await env.api('GET', '/v1/vhosts', undefined, { authorization: `bearer ${TOKEN}` })).status, 200, 'the scheme is case-insensitive');
  t.same(flips, ['unauthorized', 'unauthorized', 'unauthorized', 'unauthorized', 'ok']);
});

t.test('flip bodies are size-limited and schema-checked; every error is JSON with a code and a message', async (t) => {
  const env = await startEnv(t);
  const flips: string[] = [];
  await env.startDaemon({ onFlip: (r) => flips.push(r) });
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  const path = `/v1/vhosts/${HOST}/flip`;

  const bad: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{"to": ', /body is not valid JSON/],
    ['not an object', '["green"]', /body must be a JSON object/],
    ['no colour', {}, /to: is required/],
    ['a number', { to: 7 }, /to: must be a string/],
    ['a bad colour', { to: 'Green Team' }, /to: colour "Green Team" must match/],
    ['an unknown field', { to: 'green', forse: true }, /forse: unknown field \(allowed: to, expect, force, wait, timeoutMs, reason\)/],
    ['a string flag', { to: 'green', force: 'yes' }, /force: must be true or false/],
    ['a huge timeout', { to: 'green', timeoutMs: 1e9 }, /timeoutMs: must be a whole number of milliseconds from 1 to 120000/],
  ];
  const writes = await writesDuring(env, async () => {
    for (const [what, body, message] of bad) {
      const res = await env.api('POST', path, body);
      t.equal(res.status, 400, what);
      t.match(res.body, { error: { code: 'BAD_REQUEST', message } }, what);
    }
    const form = await env.api('POST', path, 'to=green', { 'content-type': 'application/x-www-form-urlencoded' });
    t.equal(form.status, 400, 'a form post (what a cross-site page can send without a preflight) is refused');
    t.match(form.body, { error: { code: 'BAD_REQUEST', message: /content-type must be application\/json/ } });

    const declared = await rawPost(env.apiPort, path, { 'content-type': 'application/json', 'content-length': '100000' }, ['{']);
    t.equal(declared.status, 400, 'a declared oversized body is refused before it is read');
    t.match(JSON.parse(declared.body), { error: { code: 'BAD_REQUEST', message: /body is 100000 bytes; at most 4096/ } });
    const padding = JSON.stringify({ to: 'green', expect: 'blue' }).replace('}', `, "x": "${'a'.repeat(8000)}"}`);
    const chunked = await rawPost(env.apiPort, path, { 'content-type': 'application/json' }, [padding.slice(0, 3000), padding.slice(3000)]);
    t.equal(chunked.status, 400, 'a chunked body past the limit is refused');
    t.match(JSON.parse(chunked.body), { error: { code: 'BAD_REQUEST', message: /larger than 4096 bytes/ } });
  });
  t.equal(writes, 0, 'none of them wrote to etcd');
  t.equal(flips.length, bad.length + 3);
  t.ok(flips.every((f) => f === 'bad_request'), 'all counted as bad requests');
  t.match((await env.api('GET', '/v1/nothing')).body, { error: { code: 'NOT_FOUND', message: 'no route /v1/nothing' } });
});

t.test('the daemon refuses a non-loopback listen address without a token, and an empty token file', async (t) => {
  const dir = tmpDir(t);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'api:\n  listen: 0.0.0.0:9180\n');
  t.throws(() => loadConfig({ file, required: true, env: {}, flags: {} }), {
    code: 'CONFIG_INVALID',
    message: /api\.tokenFile: is required when api\.listen \(0\.0\.0\.0:9180\) is not a loopback address/,
  });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, '\n');
  writeFileSync(file, `api:\n  listen: 0.0.0.0:0\n  tokenFile: ${tokenFile}\n`);
  const config = loadConfig({ file, required: true, env: {}, flags: {} });
  await t.rejects(startDaemon(config, createLogger('silent')), { code: 'CONFIG_INVALID', message: /api\.tokenFile: .* is empty; put the API token in it/ });
});
