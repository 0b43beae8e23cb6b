// Slot sizing: grow only when servers no longer fit, give free slots back only when asked (on a reload).
import t from 'tap';
import type { Backend, Endpoint, Slot } from '../../src/core/model.ts';
import { endpointKey, freshSlots, growSlots, layoutSlots, shrinkLayout, shrinkSlots } from '../../src/core/slots.ts';

const ep = (n: number): Endpoint => ({ address: `10.0.0.${n}`, port: 8080 });

function names(slots: readonly Slot[] | undefined): Array<[string, string | null]> {
  return (slots ?? []).map((s) => [s.name, s.endpoint ? endpointKey(s.endpoint) : null]);
}

function backend(name: string, servers: Endpoint[]): Backend {
  return { name, host: 'a.example.com', colour: 'blue', service: 'shop/web', port: 'http', balance: 'roundrobin', healthPath: null, minReady: 1, servers };
}

t.test('growSlots: servers that fit change nothing in the slot list', async (t) => {
  const prev = freshSlots([ep(1), ep(2)], 2);
  const grown = growSlots([ep(2), ep(3)], prev, 2);
  t.strictSame(names(grown), [
    ['srv1', '10.0.0.3:8080'],
    ['srv2', '10.0.0.2:8080'],
    ['srv3', null],
    ['srv4', null],
  ]);
});

t.test('growSlots: on exhaustion no server moves, and the new slots leave `spare` free', async (t) => {
  const prev = freshSlots([ep(1), ep(2)], 1); // srv1=1 srv2=2 srv3 free
  const grown = growSlots([ep(1), ep(2), ep(3), ep(4), ep(5)], prev, 2);
  t.strictSame(names(grown), [
    ['srv1', '10.0.0.1:8080'],
    ['srv2', '10.0.0.2:8080'],
    ['srv3', '10.0.0.3:8080'],
    ['srv4', '10.0.0.4:8080'],
    ['srv5', '10.0.0.5:8080'],
    ['srv6', null],
    ['srv7', null],
  ]);
});

t.test('growSlots: a server at srv5 keeps srv5 after a shrink left gaps; new slots take unused names', async (t) => {
  const prev: Slot[] = [
    { name: 'srv1', endpoint: null },
    { name: 'srv5', endpoint: ep(5) },
  ];
  const grown = growSlots([ep(5), ep(6), ep(7)], prev, 1);
  t.strictSame(names(grown), [
    ['srv1', '10.0.0.6:8080'],
    ['srv2', '10.0.0.7:8080'],
    ['srv3', null],
    ['srv5', '10.0.0.5:8080'],
  ]);
});

t.test('shrinkSlots: keeps `spare` free slots, the lowest-numbered, and every occupied slot where it is', async (t) => {
  const slots: Slot[] = [
    { name: 'srv1', endpoint: null },
    { name: 'srv2', endpoint: ep(2) },
    { name: 'srv3', endpoint: null },
    { name: 'srv4', endpoint: null },
    { name: 'srv5', endpoint: ep(5) },
    { name: 'srv6', endpoint: null },
  ];
  t.strictSame(names(shrinkSlots(slots, 2)), [
    ['srv1', null],
    ['srv2', '10.0.0.2:8080'],
    ['srv3', null],
    ['srv5', '10.0.0.5:8080'],
  ]);
  t.strictSame(names(shrinkSlots(slots, 0)), [
    ['srv2', '10.0.0.2:8080'],
    ['srv5', '10.0.0.5:8080'],
  ]);
  t.equal(shrinkSlots(slots, 4), slots, 'no surplus: the same list comes back');
});

t.test('layoutSlots never shrinks; shrinkLayout does, per backend', async (t) => {
  const big = layoutSlots([backend('be_a', [ep(1), ep(2), ep(3), ep(4)])], 1, null);
  const after = layoutSlots([backend('be_a', [ep(4)]), backend('be_b', [])], 1, big);
  t.strictSame(names(after['be_a']), [
    ['srv1', null],
    ['srv2', null],
    ['srv3', null],
    ['srv4', '10.0.0.4:8080'],
    ['srv5', null],
  ], 'servers leaving free their slots; the slot count stays until a reload');
  const shrunk = shrinkLayout(after, 1);
  t.strictSame(names(shrunk['be_a']), [
    ['srv1', null],
    ['srv4', '10.0.0.4:8080'],
  ]);
  t.strictSame(names(shrunk['be_b']), [['srv1', null]]);
});
