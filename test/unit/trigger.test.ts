// Trigger: coalesces pokes into runs. Time is a manual clock, so the
// assertions are about exact moments, and nothing sleeps.
import t from 'tap';
import { Trigger, type RunOutcome, type TriggerOptions } from '../../src/reconcile/trigger.ts';
import type * as Tap from 'tap';
import { ManualClock } from '../helpers/manual-clock.ts';

const DEFAULTS: TriggerOptions = { debounceMs: 50, maxDelayMs: 1000 };

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

/**
 * A run function that records when each run starts and ends (clock time),
 * tracks concurrency, takes `durationMs` of clock time, or is held open by a
 * gate while `held`.
 */
function recorder(clock: ManualClock, opts: { durationMs?: number; outcomes?: Array<RunOutcome | Error> } = {}) {
  const starts: number[] = [];
  const ends: number[] = [];
  const events: string[] = [];
  const gates: Gate[] = [];
  let active = 0;
  let maxActive = 0;
  let held = false;
  const run = async (): Promise<RunOutcome> => {
    const n = starts.length + 1;
    starts.push(clock.now());
    events.push(`start${n}`);
    maxActive = Math.max(maxActive, ++active);
    try {
      if (held) {
        const g = gate();
        gates.push(g);
        await g.promise;
      } else if (opts.durationMs) {
        await clock.sleep(opts.durationMs);
      }
      const outcome = opts.outcomes?.[n - 1] ?? {};
      if (outcome instanceof Error) throw outcome;
      return outcome;
    } finally {
      active--;
      ends.push(clock.now());
      events.push(`end${n}`);
    }
  };
  return {
    run,
    starts,
    ends,
    events,
    gates,
    get runs() {
      return starts.length;
    },
    get maxActive() {
      return maxActive;
    },
    hold(on: boolean) {
      held = on;
    },
  };
}

function setup(t: Tap.Test, opts: TriggerOptions = DEFAULTS, rec: { durationMs?: number; outcomes?: Array<RunOutcome | Error> } = {}) {
  const clock = new ManualClock();
  const r = recorder(clock, rec);
  const trigger = new Trigger(r.run, opts, clock);
  t.teardown(() => trigger.stop());
  return { clock, r, trigger };
}

t.test('a single change after a quiet period is applied at once, not after the debounce', async (t) => {
  const { clock, r, trigger } = setup(t);
  const at = clock.now();
  trigger.poke();
  t.equal(r.runs, 0, 'nothing runs synchronously inside poke()');
  await clock.advance(0);
  t.strictSame(r.starts, [at], 'the run started with no clock time passed');
  await clock.advance(5000);
  t.equal(r.runs, 1, 'and only once');

  // Quiet again (longer than debounceMs since the run): the next lone change is immediate too.
  const again = clock.now();
  trigger.poke();
  await clock.advance(0);
  t.strictSame(r.starts, [at, again]);
});

t.test('pokes in the same tick join one run', async (t) => {
  const { clock, r, trigger } = setup(t);
  for (let i = 0; i < 100; i++) trigger.poke();
  await clock.advance(5000);
  t.equal(r.runs, 1);
  t.strictSame(r.events, ['start1', 'end1']);
});

t.test('a change in the debounce window after a run waits for quiet', async (t) => {
  const { clock, r, trigger } = setup(t);
  trigger.poke();
  await clock.advance(0);
  await clock.advance(10);
  trigger.poke(); // 10 ms after the run ended: inside the window
  const poked = clock.now();
  await clock.advance(DEFAULTS.debounceMs - 1);
  t.equal(r.runs, 1, 'not yet: the window is not quiet');
  await clock.advance(1);
  t.strictSame(r.starts.slice(1), [poked + DEFAULTS.debounceMs], 'runs debounceMs after the poke');
});

t.test('a burst after a quiet period: the first change at once, the rest in one more run', async (t) => {
  const { clock, r, trigger } = setup(t, DEFAULTS, { durationMs: 5 });
  const started = clock.now();
  for (let i = 0; i < 20; i++) {
    trigger.poke();
    await clock.advance(2);
  }
  await clock.advance(5000);
  t.equal(r.starts[0], started, 'the first change did not wait');
  t.equal(r.runs, 2, 'twenty changes, two runs');
  t.equal(r.starts[1], started + 38 + DEFAULTS.debounceMs, 'the second run waited for debounceMs after the last change');
});

t.test('1,000 changes in 1 s: one run at once, then one per maxDelayMs, then one after the stream', async (t) => {
  const { clock, r, trigger } = setup(t, DEFAULTS, { durationMs: 20 });
  for (let i = 0; i < 1000; i++) {
    trigger.poke();
    await clock.advance(1);
  }
  await clock.advance(5000);
  t.ok(r.runs >= 2 && r.runs <= 3, `at most 3 runs for 1,000 changes (${r.runs})`);
  t.equal(r.maxActive, 1);
  t.ok(r.ends[r.ends.length - 1]! >= r.starts[0]! + 999, 'the last run covers the last change');
});

t.test('a poke during a run gives exactly one more run after it', async (t) => {
  const { clock, r, trigger } = setup(t);
  r.hold(true);
  trigger.poke();
  await clock.advance(0);
  t.equal(r.gates.length, 1, 'the first run is in flight');
  for (let i = 0; i < 10; i++) trigger.poke();
  await clock.advance(5000);
  t.strictSame(r.events, ['start1'], 'no second run while the first is in flight');
  r.hold(false);
  r.gates[0]?.open();
  await clock.advance(5000);
  t.strictSame(r.events, ['start1', 'end1', 'start2', 'end2']);
  t.equal(r.maxActive, 1);
});

t.test('no poke during a run: no second run', async (t) => {
  const { clock, r, trigger } = setup(t);
  r.hold(true);
  trigger.poke();
  await clock.advance(0);
  r.gates[0]?.open();
  await clock.advance(5000);
  t.strictSame(r.events, ['start1', 'end1']);
  t.equal(clock.pending(), 0, 'nothing left scheduled');
});

t.test('never two runs at once, whatever the pattern of pokes', async (t) => {
  const { clock, r, trigger } = setup(t, { debounceMs: 10, maxDelayMs: 30 }, { durationMs: 15 });
  // A fixed irregular pattern: gaps of 0 to 40 ms.
  for (let i = 0; i < 300; i++) {
    trigger.poke();
    await clock.advance((i * 7919) % 41);
  }
  await clock.advance(5000);
  t.equal(r.maxActive, 1);
  t.ok(r.runs >= 10, `several runs happened (${r.runs})`);
  t.strictSame(r.events, Array.from({ length: r.runs }, (_, i) => [`start${i + 1}`, `end${i + 1}`]).flat(), 'strictly alternating start/end');
});

t.test('maxDelayMs is honoured under a constant stream of changes', async (t) => {
  const opts = { debounceMs: 50, maxDelayMs: 200 };
  const run = 30;
  const { clock, r, trigger } = setup(t, opts, { durationMs: run });
  const pokes: number[] = [];
  // One change every 10 ms for 3 s: never 50 ms of quiet.
  for (let i = 0; i < 300; i++) {
    pokes.push(clock.now());
    trigger.poke();
    await clock.advance(10);
  }
  await clock.advance(5000);
  t.ok(r.runs >= 3000 / (opts.maxDelayMs + run) - 1, `runs kept coming while the stream never stopped (${r.runs})`);
  // Each change is picked up by a run that starts at most maxDelayMs after it, or after the run in flight when it came.
  const worst = Math.max(...pokes.map((p) => (r.starts.find((s) => s >= p) ?? Infinity) - p));
  t.ok(worst <= opts.maxDelayMs + run, `every change was picked up within maxDelayMs + one run (worst ${worst} ms)`);
  t.equal(r.maxActive, 1);
});

t.test('a run returning retryInMs runs again without a poke', async (t) => {
  const { clock, r, trigger } = setup(t, DEFAULTS, { outcomes: [{ retryInMs: 20 }, { retryInMs: 10 }, {}] });
  trigger.poke();
  const at = clock.now();
  await clock.advance(5000);
  t.strictSame(r.events, ['start1', 'end1', 'start2', 'end2', 'start3', 'end3'], 'retries stop once a run succeeds');
  t.strictSame(r.starts, [at, at + 20, at + 30], 'after the delays asked for');
});

t.test('a run that throws is retried a second later', async (t) => {
  const { clock, r, trigger } = setup(t, DEFAULTS, { outcomes: [new Error('boom'), {}] });
  trigger.poke();
  const at = clock.now();
  await clock.advance(5000);
  t.strictSame(r.events, ['start1', 'end1', 'start2', 'end2']);
  t.equal(r.starts[1], at + 1000);
});

t.test('firstPendingAt: set by a poke, kept across a failed run, cleared by a good run', async (t) => {
  const { clock, r, trigger } = setup(t, DEFAULTS, { outcomes: [{ retryInMs: 20 }, {}] });
  t.equal(trigger.firstPendingAt(), null);
  trigger.poke();
  const first = trigger.firstPendingAt();
  t.equal(first, clock.now());
  await clock.advance(0);
  t.equal(r.runs, 1);
  t.equal(trigger.firstPendingAt(), first, 'still pending after a failed run');
  await clock.advance(20);
  t.equal(r.runs, 2);
  t.equal(trigger.firstPendingAt(), null, 'cleared by the good run');
});

t.test('a poke during a run is the pending change of the next run', async (t) => {
  const { clock, r, trigger } = setup(t);
  r.hold(true);
  trigger.poke();
  await clock.advance(0);
  await clock.advance(7);
  trigger.poke();
  const during = clock.now();
  r.hold(false);
  r.gates[0]?.open();
  await clock.advance(0);
  t.equal(trigger.firstPendingAt(), during);
});

t.test('stop() waits for the run in flight and prevents further runs', async (t) => {
  const clock = new ManualClock();
  const r = recorder(clock);
  r.hold(true);
  const trigger = new Trigger(r.run, DEFAULTS, clock);
  trigger.poke();
  await clock.advance(0);
  trigger.poke(); // would cause a second run, but stop comes first
  let stopped = false;
  const stopping = trigger.stop().then(() => {
    stopped = true;
  });
  await clock.advance(100);
  t.equal(stopped, false, 'stop() has not returned while the run is in flight');
  r.gates[0]?.open();
  await stopping;
  t.strictSame(r.events, ['start1', 'end1'], 'stop() returned after the run ended');
  trigger.poke();
  await clock.advance(5000);
  t.strictSame(r.events, ['start1', 'end1'], 'no run after stop, neither pending nor new');
});

t.test('stop() cancels a scheduled run and a pending retry', async (t) => {
  const clock = new ManualClock();
  const r = recorder(clock);
  const scheduled = new Trigger(r.run, DEFAULTS, clock);
  scheduled.poke();
  await scheduled.stop();
  await clock.advance(5000);
  t.equal(r.runs, 0, 'the run due at once never happens');

  const q = recorder(clock, { outcomes: [{ retryInMs: 30 }] });
  const retrying = new Trigger(q.run, DEFAULTS, clock);
  retrying.poke();
  await clock.advance(0);
  await retrying.stop();
  await clock.advance(5000);
  t.strictSame(q.events, ['start1', 'end1'], 'the retry never happens');
  t.equal(clock.pending(), 0);
});
