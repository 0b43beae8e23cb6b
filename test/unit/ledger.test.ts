import t from 'tap';
import { entryView, historyKey, keysToTrim, liveColour, parseEntry, parseIntent, withConfirmation, type LedgerEntry } from '../../src/core/ledger.ts';
import { LedgerRecorder } from '../../src/fleet/ledger-recorder.ts';
import type { FlipFound, LedgerStore } from '../../src/fleet/ledger-store.ts';
import { captureLogs } from '../helpers/logs.ts';

const SPEC = JSON.stringify({ backends: { blue: { service: 'a/b', port: 'http' }, green: { service: 'a/g', port: 'http' } }, default: 'blue' });
const ENTRY: LedgerEntry = {
  host: 'shop.example.com', from: 'blue', to: 'green', revision: 57, at: '2025-05-01T10:00:00.000Z', source: 'api', reason: 'release',
  forced: false, actor: '10.0.0.9 via lb-1', timeoutMs: 5000, expected: ['lb-1', 'lb-2', 'lb-3'], confirmations: [],
};

t.test('keys sort by revision; the newest 100 are kept', async (t) => {
  t.equal(historyKey('/hs/', 'a.example', 57), '/hs/history/a.example/00000000000000000057');
  const keys = [120, 9, 100, 11].map((r) => historyKey('/', 'h', r));
  t.same(keysToTrim(keys, 2), [historyKey('/', 'h', 9), historyKey('/', 'h', 11)]);
  t.same(keysToTrim(keys, 100), []);
});

t.test('the live colour: the active key when valid, else the default; none without a valid spec', async (t) => {
  t.equal(liveColour(SPEC, 'green'), 'green');
  t.equal(liveColour(SPEC, ' green\n'), 'green');
  t.equal(liveColour(SPEC, undefined), 'blue');
  t.equal(liveColour(SPEC, 'purple'), null);
  t.equal(liveColour(undefined, 'green'), null);
  t.equal(liveColour('{', 'green'), null);
});

t.test('entries and intents read back from etcd are validated', async (t) => {
  t.same(parseEntry(JSON.stringify(ENTRY)), ENTRY);
  t.match(parseEntry('[]'), /not a JSON object/);
  t.match(parseEntry(JSON.stringify({ ...ENTRY, to: 'Green!' })), /^to: not a colour/);
  t.match(parseEntry(JSON.stringify({ ...ENTRY, reason: 'a\nb' })), /^reason/);
  t.match(parseEntry(JSON.stringify({ ...ENTRY, source: 'ui' })), /^source/);
  t.match(parseEntry(JSON.stringify({ ...ENTRY, confirmations: [{ node: 'x' }] })), /^confirmations/);
  const intent = { to: 'green', reason: null, force: true, actor: '::1 via lb-2', timeoutMs: 3000 };
  t.same(parseIntent(JSON.stringify(intent)), intent);
  t.equal(parseIntent(JSON.stringify({ ...intent, to: 7 })), null);
  t.equal(parseIntent('green'), null);
});

t.test('confirmations: once per node; each node served in time, late, is awaited, or missed', async (t) => {
  const one = withConfirmation(ENTRY, 'lb-2', '2025-05-01T10:00:00.200Z');
  t.equal(withConfirmation(one, 'lb-2', '2025-05-01T10:00:09.000Z'), one, 'a second confirmation of a node changes nothing');
  const two = withConfirmation(withConfirmation(one, 'lb-9', '2025-05-01T10:00:06.000Z'), 'lb-1', '2025-05-01T10:00:00.100Z');
  t.same(two.confirmations.map((c) => c.node), ['lb-1', 'lb-2', 'lb-9']);
  const during = entryView(two, Date.parse('2025-05-01T10:00:01Z'));
  t.same(during.nodes.map((n) => [n.node, n.state]), [['lb-1', 'served'], ['lb-2', 'served'], ['lb-3', 'waiting'], ['lb-9', 'late']]);
  const after = entryView(two, Date.parse('2025-05-01T10:00:06Z'));
  t.same(after.nodes.find((n) => n.node === 'lb-3'), { node: 'lb-3', servedAt: null, state: 'missed' });
  t.notOk('confirmations' in after, 'the view lists nodes, not raw confirmations');
});

/** A store in memory whose writes can be made to fail. */
function memoryStore(flip: FlipFound | null): LedgerStore & { entries: Map<number, LedgerEntry>; failing: boolean } {
  const entries = new Map<number, LedgerEntry>();
  const store = {
    entries,
    failing: false,
    flipAt: async () => flip,
    create: async (entry: LedgerEntry) => {
      if (store.failing) throw new Error('etcdserver: permission denied');
      if (entries.has(entry.revision)) return false;
      entries.set(entry.revision, entry);
      return true;
    },
    confirm: async (_host: string, revision: number, node: string, at: string) => {
      if (store.failing) throw new Error('etcdserver: permission denied');
      const e = entries.get(revision);
      if (e) entries.set(revision, withConfirmation(e, node, at));
      return e !== undefined;
    },
    trim: async () => {},
    list: async () => ({ entries: [...entries.values()], unreadable: [] }),
  };
  return store;
}

t.test('the recorder writes an entry for a flip and confirms it once this node applied its revision', async (t) => {
  const store = memoryStore({ host: 'shop.example.com', from: 'blue', to: 'green', revision: 57, intent: null });
  const { log } = captureLogs();
  const rec = new LedgerRecorder({ store, node: 'lb-1', log, liveNodes: async () => ['lb-2'], now: () => Date.parse('2025-05-01T10:00:00Z') });
  rec.seen('shop.example.com', 57);
  await rec.idle();
  t.match(store.entries.get(57), { source: 'etcd', reason: null, expected: ['lb-1', 'lb-2'], confirmations: [] }, 'recorded, not yet confirmed');
  rec.appliedRevision(56, Date.parse('2025-05-01T10:00:00.100Z'));
  await rec.idle();
  t.same(store.entries.get(57)?.confirmations, [], 'an older revision does not confirm');
  rec.appliedRevision(58, Date.parse('2025-05-01T10:00:00.300Z'));
  await rec.idle();
  t.same(store.entries.get(57)?.confirmations, [{ node: 'lb-1', at: '2025-05-01T10:00:00.300Z' }]);
});

t.test('a ledger that cannot be written is reported as LEDGER_FAILED and retried until it can', async (t) => {
  const store = memoryStore({ host: 'shop.example.com', from: 'blue', to: 'green', revision: 57, intent: null });
  store.failing = true;
  const { log, logs } = captureLogs();
  const rec = new LedgerRecorder({ store, node: 'lb-1', log, liveNodes: async () => [] });
  t.teardown(() => rec.stop());
  rec.appliedRevision(57, Date.now());
  rec.seen('shop.example.com', 57);
  await rec.idle();
  t.match(logs.find((l) => l['code'] === 'LEDGER_FAILED'), { host: 'shop.example.com', revision: 57, err: /permission denied/, msg: /the flip stands/ });
  t.equal(store.entries.size, 0);
  store.failing = false;
  const deadline = Date.now() + 5000;
  while (store.entries.get(57)?.confirmations.length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.same(store.entries.get(57)?.confirmations.map((c) => c.node), ['lb-1'], 'written and confirmed once etcd takes writes again');
});

t.test('a recorder gives up on a write after its deadline, with an error', async (t) => {
  const store = memoryStore({ host: 'shop.example.com', from: 'blue', to: 'green', revision: 57, intent: null });
  store.failing = true;
  const { log, logs } = captureLogs();
  let now = 0;
  const rec = new LedgerRecorder({ store, node: 'lb-1', log, liveNodes: async () => [], now: () => now, giveUpMs: 1000 });
  t.teardown(() => rec.stop());
  rec.seen('shop.example.com', 57);
  await rec.idle();
  now = 2000;
  const deadline = Date.now() + 5000;
  while (!logs.some((l) => /gave up/.test(String(l['msg']))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.match(logs.find((l) => /gave up/.test(String(l['msg']))), { code: 'LEDGER_FAILED', level: 'error' });
});
