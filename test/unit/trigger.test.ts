// Trigger: coalesces pokes into runs with real, short timers. Assertions are on
// counts and ordering only; the waits below are guards and settle periods.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { Trigger, type RunOutcome } from '../../src/reconcile/trigger.ts';

const GUARD_MS = 5000;

/** Waits until pred() holds; fails loudly after GUARD_MS so a broken trigger cannot hang the suite. */
async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A run function that logs start/end, tracks concurrency, and can be held open per run. */
function recorder(outcomes: Array<RunOutcome | Error> = []) {
  const events: string[] = [];
  const gates: Gate[] = [];
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  let held = false;
  const run = async (): Promise<RunOutcome> => {
    const n = ++runs;
    active++;
    maxActive = Math.max(maxActive, active);
    events.push(`start${n}`);
    try {
      if (held) {
        const g = gate();
        gates.push(g);
        await g.promise;
      } else {
        await sleep(1);
      }
      const outcome = outcomes[n - 1] ?? {};
      if (outcome instanceof Error) throw outcome;
      return outcome;
    } finally {
      active--;
      events.push(`end${n}`);
    }
  };
  return {
    run,
    events,
    gates,
    get runs() {
      return runs;
    },
    get maxActive() {
      return maxActive;
    },
    get active() {
      return active;
    },
    hold(on: boolean) {
      held = on;
    },
  };
}

t.test('a burst of pokes gives one run', async (t) => {
  const r = recorder();
  const trigger = new Trigger(r.run, { debounceMs: 20, maxDelayMs: 100 });
  t.teardown(() => trigger.stop());
  for (let i = 0; i < 100; i++) trigger.poke();
  t.equal(r.runs, 0, 'nothing runs synchronously');
  await until(() => r.events.includes('end1'), 'the first run');
  await sleep(150);
  t.equal(r.runs, 1);
  t.strictSame(r.events, ['start1', 'end1']);
});

t.test('a poke during a run gives exactly one more run after it', async (t) => {
  const r = recorder();
  r.hold(true);
  const trigger = new Trigger(r.run, { debounceMs: 10, maxDelayMs: 100 });
  t.teardown(() => trigger.stop());
  trigger.poke();
  await until(() => r.gates.length === 1, 'the first run to start');
  for (let i = 0; i < 10; i++) trigger.poke();
  await sleep(150);
  t.strictSame(r.events, ['start1'], 'no second run while the first is in flight');
  r.hold(false);
  r.gates[0]?.open();
  await until(() => r.events.includes('end2'), 'the second run');
  await sleep(150);
  t.strictSame(r.events, ['start1', 'end1', 'start2', 'end2']);
  t.equal(r.maxActive, 1);
});

t.test('no poke during a run: no second run', async (t) => {
  const r = recorder();
  r.hold(true);
  const trigger = new Trigger(r.run, { debounceMs: 10, maxDelayMs: 100 });
  t.teardown(() => trigger.stop());
  trigger.poke();
  await until(() => r.gates.length === 1, 'the run to start');
  r.gates[0]?.open();
  await until(() => r.events.includes('end1'), 'the run to end');
  await sleep(150);
  t.strictSame(r.events, ['start1', 'end1']);
});

t.test('never two runs at once', async (t) => {
  const events: string[] = [];
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const trigger = new Trigger(
    async () => {
      const n = ++runs;
      active++;
      maxActive = Math.max(maxActive, active);
      events.push(`start${n}`);
      await sleep(15);
      events.push(`end${n}`);
      active--;
      return {};
    },
    { debounceMs: 10, maxDelayMs: 30 },
  );
  t.teardown(() => trigger.stop());
  for (let i = 0; i < 60; i++) {
    trigger.poke();
    await sleep(3);
  }
  await until(() => active === 0 && events.length > 0 && events[events.length - 1]?.startsWith('end') === true, 'runs to finish');
  await sleep(100);
  t.equal(maxActive, 1);
  t.ok(runs >= 2, `several runs happened (${runs})`);
  t.strictSame(events, Array.from({ length: runs }, (_, i) => [`start${i + 1}`, `end${i + 1}`]).flat(), 'strictly alternating start/end');
});

t.test('a run returning retryInMs runs again without a poke', async (t) => {
  const r = recorder([{ retryInMs: 20 }, { retryInMs: 10 }, {}]);
  const trigger = new Trigger(r.run, { debounceMs: 10, maxDelayMs: 100 });
  t.teardown(() => trigger.stop());
  trigger.poke();
  await until(() => r.events.includes('end3'), 'the retries');
  await sleep(150);
  t.strictSame(r.events, ['start1', 'end1', 'start2', 'end2', 'start3', 'end3'], 'retries stop once a run succeeds');
});

t.test('a run that throws is retried', async (t) => {
  const r = recorder([new Error('boom'), {}]);
  const trigger = new Trigger(r.run, { debounceMs: 10, maxDelayMs: 100 });
  t.teardown(() => trigger.stop());
  trigger.poke();
  await until(() => r.events.includes('end2'), 'the retry after a failure');
  await sleep(50);
  t.strictSame(r.events, ['start1', 'end1', 'start2', 'end2']);
});

t.test('firstPendingAt: set by a poke, kept across a failed run, cleared by a good run', async (t) => {
  const r = recorder([{ retryInMs: 20 }, {}]);
  const trigger = new Trigger(r.run, { debounceMs: 10, maxDelayMs: 100 });
  t.teardown(() => trigger.stop());
  t.equal(trigger.firstPendingAt(), null);
  trigger.poke();
  const first = trigger.firstPendingAt();
  t.type(first, 'number');
  trigger.poke();
  t.equal(trigger.firstPendingAt(), first, 'later pokes keep the oldest time');
  await until(() => r.events.includes('end1'), 'the failing run');
  t.equal(trigger.firstPendingAt(), first, 'still pending after a failed run');
  await until(() => r.events.includes('end2'), 'the good run');
  await until(() => trigger.firstPendingAt() === null, 'pending to clear');
  t.equal(trigger.firstPendingAt(), null);
});

t.test('stop() waits for the run in flight and prevents further runs', async (t) => {
  const r = recorder();
  r.hold(true);
  const trigger = new Trigger(r.run, { debounceMs: 10, maxDelayMs: 100 });
  trigger.poke();
  await until(() => r.gates.length === 1, 'the run to start');
  trigger.poke(); // would cause a second run, but stop comes first
  let stopped = false;
  const stopping = trigger.stop().then(() => {
    stopped = true;
  });
  await sleep(50);
  t.equal(stopped, false, 'stop() has not returned while the run is in flight');
  t.strictSame(r.events, ['start1']);
  r.gates[0]?.open();
  await stopping;
  t.strictSame(r.events, ['start1', 'end1'], 'stop() returned after the run ended');
  trigger.poke();
  await sleep(150);
  t.strictSame(r.events, ['start1', 'end1'], 'no run after stop, neither pending nor new');
});

t.test('stop() cancels a scheduled run and a pending retry', async (t) => {
  const r = recorder();
  const scheduled = new Trigger(r.run, { debounceMs: 20, maxDelayMs: 50 });
  scheduled.poke();
  await scheduled.stop();
  await sleep(120);
  t.equal(r.runs, 0, 'the debounced run never happens');

  const q = recorder([{ retryInMs: 30 }]);
  const retrying = new Trigger(q.run, { debounceMs: 10, maxDelayMs: 50 });
  retrying.poke();
  await until(() => q.events.includes('end1'), 'the failing run');
  await retrying.stop();
  await sleep(120);
  t.strictSame(q.events, ['start1', 'end1'], 'the retry never happens');
});

t.test('continuous pokes cannot starve runs: maxDelay is honoured', async (t) => {
  const r = recorder();
  const trigger = new Trigger(r.run, { debounceMs: 50, maxDelayMs: 100 });
  t.teardown(() => trigger.stop());
  const end = Date.now() + 300;
  while (Date.now() < end) {
    trigger.poke();
    await sleep(5);
  }
  const runsWhilePoking = r.runs;
  t.ok(runsWhilePoking >= 2, `at least 2 runs while pokes never stopped (${runsWhilePoking})`);
  await until(() => r.active === 0, 'the last run to end');
  t.equal(r.maxActive, 1);
});
