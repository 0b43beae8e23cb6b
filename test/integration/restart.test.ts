import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import type { Daemon } from '../../src/commands/run.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';

async function appliedOnce(env: TestEnv): Promise<Daemon> {
  const daemon = await env.startDaemon();
  await waitFor(() => daemon.reconciler.applied() !== null && daemon.reconciler.lastReport()?.ok === true, 15000, 'an apply');
  return daemon;
}

async function firstDaemon(env: TestEnv): Promise<void> {
  await env.putSpec(HOST, blueGreenSpec());
  const daemon = await appliedOnce(env);
  await env.until(HOST, { body: 'blue' });
  await daemon.stop();
}

t.test('a restarted daemon takes over the files HAProxy runs without reloading it', async (t) => {
  const env = await startEnv(t);
  await firstDaemon(env);
  const reloads = await env.reloads();

  const daemon = await appliedOnce(env);
  t.match(daemon.reconciler.lastReport(), { ok: true, mode: 'noop', reason: 'HAProxy already runs these files' });
  t.equal(await env.reloads(), reloads, 'no reload on restart');
  await env.putActive(HOST, 'green');
  await env.until(HOST, { body: 'green' });
  t.equal(daemon.reconciler.lastReport()?.mode, 'runtime', 'the next flip goes by the Runtime API');
  t.equal(await env.reloads(), reloads, 'still no reload');
});

t.test('files written after HAProxy loaded them (a crash before the reload) are reloaded on restart', async (t) => {
  const env = await startEnv(t);
  await firstDaemon(env);
  const reloads = await env.reloads();
  writeFileSync(env.paths.config, readFileSync(env.paths.config));

  const daemon = await appliedOnce(env);
  t.match(daemon.reconciler.lastReport(), { ok: true, mode: 'reload' });
  t.equal(await env.reloads(), reloads + 1, 'one reload');
});
