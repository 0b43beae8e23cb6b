// Server slots: stable names for servers that stay, free slots for runtime fills.
import t from 'tap';
import type { Backend, Endpoint, Slot } from '../../src/core/model.ts';
import { endpointKey, fitSlots, freshSlots, layoutSlots, slotName, type Layout } from '../../src/core/slots.ts';

const ep = (address: string, port = 8080): Endpoint => ({ address, port });
const A = ep('10.0.0.1');
const B = ep('10.0.0.2');
const C = ep('10.0.0.3');
const D = ep('10.0.0.4');
const E = ep('10.0.0.5');

function backend(name: string, servers: Endpoint[]): Backend {
  return { name, host: 'a.example.com', colour: 'blue', service: 'shop/web', port: 'http', balance: 'roundrobin', healthPath: null, minReady: 1, servers };
}

/** Slot name → endpoint key, or null for a free slot. */
function names(slots: readonly Slot[] | null | undefined): Array<[string, string | null]> | null {
  return slots ? slots.map((s) => [s.name, s.endpoint ? endpointKey(s.endpoint) : null]) : null;
}

t.test('slotName counts from srv1', async (t) => {
  t.equal(slotName(0), 'srv1');
  t.equal(slotName(9), 'srv10');
});

t.test('freshSlots: servers in order, then free slots', async (t) => {
  t.strictSame(freshSlots([A, B], 2), [
    { name: 'srv1', endpoint: A },
    { name: 'srv2', endpoint: B },
    { name: 'srv3', endpoint: null },
    { name: 'srv4', endpoint: null },
  ]);
  t.strictSame(freshSlots([], 2), [
    { name: 'srv1', endpoint: null },
    { name: 'srv2', endpoint: null },
  ]);
  t.strictSame(freshSlots([A], 0), [{ name: 'srv1', endpoint: A }]);
  t.strictSame(freshSlots([], 0), []);
});

t.test('fitSlots: servers that stay keep their slot names', async (t) => {
  const prev = freshSlots([A, B, C], 1); // srv1=A srv2=B srv3=C srv4=free
  t.strictSame(names(fitSlots([A, C], prev)), [
    ['srv1', '10.0.0.1:8080'],
    ['srv2', null],
    ['srv3', '10.0.0.3:8080'],
    ['srv4', null],
  ], 'a removed server frees its slot, the others do not move');
  t.strictSame(names(fitSlots([C, B, A], prev)), names(prev), 'order of the new list does not matter');
});

t.test('fitSlots: new servers fill free slots in order', async (t) => {
  const prev = fitSlots([A, C], freshSlots([A, B, C], 1));
  t.ok(prev);
  t.strictSame(names(fitSlots([A, C, D, E], prev ?? [])), [
    ['srv1', '10.0.0.1:8080'],
    ['srv2', '10.0.0.4:8080'],
    ['srv3', '10.0.0.3:8080'],
    ['srv4', '10.0.0.5:8080'],
  ]);
  t.strictSame(names(fitSlots([], prev ?? [])), [
    ['srv1', null],
    ['srv2', null],
    ['srv3', null],
    ['srv4', null],
  ], 'no servers: every slot is free, none disappears');
});

t.test('fitSlots: a changed port is a different server', async (t) => {
  const prev = freshSlots([A], 1);
  t.strictSame(names(fitSlots([ep('10.0.0.1', 9090)], prev)), [
    ['srv1', '10.0.0.1:9090'],
    ['srv2', null],
  ], 'the old server leaves srv1, the new one takes the first free slot');
  t.strictSame(names(fitSlots([A, ep('10.0.0.1', 9090)], prev)), [
    ['srv1', '10.0.0.1:8080'],
    ['srv2', '10.0.0.1:9090'],
  ]);
});

t.test('fitSlots: too many servers → null', async (t) => {
  const prev = freshSlots([A], 1);
  t.equal(fitSlots([A, B, C], prev), null);
  t.equal(fitSlots([B, C, D, E], freshSlots([A, B], 1)), null, 'a freed slot counts, but 4 servers do not fit in 3 slots');
  t.strictSame(names(fitSlots([B, C, D], freshSlots([A, B], 1))), [
    ['srv1', '10.0.0.3:8080'],
    ['srv2', '10.0.0.2:8080'],
    ['srv3', '10.0.0.4:8080'],
  ], 'the slot A left and the free slot take the newcomers');
  t.ok(fitSlots([A, B], prev), 'exactly full fits');
  t.equal(fitSlots([A], []), null);
});

t.test('layoutSlots: fresh without a previous layout', async (t) => {
  const layout = layoutSlots([backend('be_a', [A, B]), backend('be_b', [])], 2, null);
  t.strictSame(Object.keys(layout), ['be_a', 'be_b']);
  t.strictSame(names(layout['be_a']), [
    ['srv1', '10.0.0.1:8080'],
    ['srv2', '10.0.0.2:8080'],
    ['srv3', null],
    ['srv4', null],
  ]);
  t.strictSame(names(layout['be_b']), [
    ['srv1', null],
    ['srv2', null],
  ]);
});

t.test('layoutSlots: reuses previous slots where servers fit, fresh layout where they do not', async (t) => {
  const prev: Layout = layoutSlots([backend('be_a', [A, B]), backend('be_b', [A])], 1, null);
  const next = layoutSlots([backend('be_a', [B, C]), backend('be_b', [B, C, D]), backend('be_new', [E])], 1, prev);
  t.strictSame(names(next['be_a']), [
    ['srv1', '10.0.0.3:8080'],
    ['srv2', '10.0.0.2:8080'],
    ['srv3', null],
  ], 'B keeps srv2, C takes the slot A left');
  t.strictSame(names(next['be_b']), [
    ['srv1', '10.0.0.2:8080'],
    ['srv2', '10.0.0.3:8080'],
    ['srv3', '10.0.0.4:8080'],
    ['srv4', null],
  ], 'too many for 2 slots: fresh layout with spare slots');
  t.strictSame(names(next['be_new']), [
    ['srv1', '10.0.0.5:8080'],
    ['srv2', null],
  ]);
  t.notOk('be_gone' in next);
  const dropped = layoutSlots([backend('be_a', [B, C])], 1, next);
  t.strictSame(Object.keys(dropped), ['be_a'], 'backends no longer wanted are not carried over');
});

t.test('layoutSlots: identical input, identical layout', async (t) => {
  const backends = [backend('be_a', [A, B, C])];
  const first = layoutSlots(backends, 2, null);
  t.strictSame(layoutSlots(backends, 2, first), first);
  t.strictSame(layoutSlots(backends, 2, null), first);
});

t.test('endpointKey brackets IPv6 addresses', async (t) => {
  t.equal(endpointKey(ep('10.0.0.1', 80)), '10.0.0.1:80');
  t.equal(endpointKey(ep('fd00::1', 8080)), '[fd00::1]:8080');
  t.equal(endpointKey(ep('::ffff:1.2.3.4', 443)), '[::ffff:1.2.3.4]:443');
  t.equal(endpointKey(ep('::', 1)), '[::]:1');
});

t.test('fitSlots tells IPv6 servers apart by address and port', async (t) => {
  const prev = freshSlots([ep('fd00::1'), ep('fd00::2')], 0);
  t.strictSame(names(fitSlots([ep('fd00::2'), ep('fd00::1')], prev)), [
    ['srv1', '[fd00::1]:8080'],
    ['srv2', '[fd00::2]:8080'],
  ]);
  t.equal(fitSlots([ep('fd00::1'), ep('fd00::3')], prev)?.[1]?.endpoint?.address, 'fd00::3');
});
