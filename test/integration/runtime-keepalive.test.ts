// A pod replaced over the Runtime API gets no more requests, even from a kept-alive client.
import { Agent } from 'node:http';
import t from 'tap';
import type { Daemon } from '../../src/commands/run.ts';
import { httpGet } from '../../src/demo/http-get.ts';
import { startPod, type Pod } from '../../src/demo/pods.ts';
import { waitUntil } from '../../src/demo/processes.ts';
import type { SyncReport } from '../../src/reconcile/reconciler.ts';
import { blueGreenSpec, startEnv, type TestEnv } from '../helpers/env.ts';
import type { Teardown } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'shop.example.com';

/** Starts the daemon with the shop vhost served, and waits for that first apply to settle. */
async function served(env: TestEnv): Promise<Daemon> {
  const daemon = await env.startDaemon();
  await env.putSpec(HOST, blueGreenSpec());
  await env.until(HOST, { body: 'blue' });
  // HAProxy may serve the new config a moment before the reconciler has recorded the apply.
  const applied = (): boolean => daemon.reconciler.applied()?.desired.vhosts.some((v) => v.host === HOST) === true;
  await waitFor(() => applied() && daemon.reconciler.lastReport()?.ok === true, 15000, 'first apply');
  return daemon;
}

/**
 * Waits until the daemon has applied a layout in which `incoming` holds a slot and `leaving` none, and
 * returns the report of that apply. (Waiting for just the next apply could catch another one, a drift
 * repair say, and from then on check each round against the round before.)
 */
async function appliedSwap(daemon: Daemon, incoming: Pod, leaving: Pod | undefined): Promise<SyncReport | null> {
  const holds = (pod: Pod): boolean => (daemon.reconciler.applied()?.layout[`be_${HOST}_blue`] ?? []).some((s) => s.endpoint?.address === pod.address && s.endpoint.port === pod.port);
  await waitFor(() => holds(incoming) && (leaving === undefined || !holds(leaving)), 15000, 'the swap applied');
  return daemon.reconciler.lastReport();
}

function podsOf(env: TestEnv, colour: string): Pod[] {
  return env.pods.filter((p) => p.colour === colour);
}

async function newPod(t: Teardown, colour: string, name: string): Promise<Pod> {
  const pod = await startPod(colour, name);
  t.teardown(() => pod.close());
  return pod;
}

t.test('a replaced pod gets no more requests, even from a client whose connection stays open', async (t) => {
  const env = await startEnv(t, { services: { 'shop/web-blue': ['blue', 2], 'shop/web-green': ['green', 1] } });
  const daemon = await served(env);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const recent: string[] = [];
  let stop = false;
  const client = (async () => {
    while (!stop) {
      const res = await httpGet(`http://127.0.0.1:${env.httpPort}/`, { host: HOST, agent });
      recent.push(res.body.trim());
      if (recent.length > 20) recent.shift();
    }
  })();
  // A failing assertion must not leave the client running into the teardown of HAProxy and the pods.
  t.teardown(() => {
    stop = true;
    return client.catch(() => {});
  });
  const answered = async (n: number): Promise<string[]> => {
    recent.length = 0;
    await waitUntil(`${n} answers`, async () => recent.length >= n, 5000);
    return [...recent];
  };
  const live = podsOf(env, 'blue');
  const green = podsOf(env, 'green');
  let report = daemon.reconciler.lastReport();
  const stale: string[] = [];
  // The race needs a request in flight when the slot changes address; many rounds make it near certain to occur.
  for (let round = 0; round < 30; round++) {
    const leavingPod = live.shift();
    const leaving = leavingPod?.name ?? '';
    const incoming = await newPod(t, 'blue', `blue-r${round}`);
    live.push(incoming);
    env.writeServices({ 'shop/web-blue': live, 'shop/web-green': green });
    report = await appliedSwap(daemon, incoming, leavingPod);
    const seen = [...(await answered(10)), ...(await answered(10))];
    if (seen.some((b) => b.endsWith(` ${leaving}`))) stale.push(`round ${round}: ${leaving} still answers`);
    if (!seen.some((b) => b.endsWith(` ${incoming.name}`))) stale.push(`round ${round}: ${incoming.name} never answers`);
  }
  stop = true;
  await client;
  t.equal(report?.mode, 'runtime', 'pods were replaced by the Runtime API');
  t.strictSame(stale, [], 'no answer came from a pod after it was replaced (the pods stayed up, as terminating pods do)');
});
