import t from 'tap';
import { columns, formatStatus } from '../../src/commands/status.ts';
import type { VHostsView } from '../../src/http/vhosts.ts';

t.test('status table: vhosts with per-colour up/ready and per-node colour, then nodes, problems and gaps', async (t) => {
  const server = (name: string, pending: boolean) => ({ name, address: '10.0.0.1:80', status: pending ? 'UP 1/2' : 'UP', check: pending ? 'INI' : 'L7OK', up: !pending, pending });
  const backend = (colour: string, up: number, ready: number, live: boolean, unchecked = 0) => ({
    colour, name: `be_${colour}`, service: `shop/${colour}`, port: 'http', healthPath: '/healthz', minReady: 1, ready, up, live,
    servers: Array.from({ length: ready }, (_, i) => server(`srv${i + 1}`, i >= ready - unchecked)),
  });
  const view: VHostsView = {
    node: 'lb-1',
    revision: 12,
    haproxy: { known: true, unknownSince: null },
    vhosts: [
      { host: 'bad.example.com', active: null, revision: null, backends: [], nodes: [], lastGood: null, problems: [{ code: 'SPEC_INVALID', host: 'bad.example.com', source: 'etcd key /p/vhosts/bad.example.com/spec', message: 'not valid JSON' }] },
      {
        host: 'shop.example.com', active: 'green', revision: 11, problems: [], lastGood: null,
        backends: [backend('blue', 2, 2, false), backend('green', 1, 3, true, 2)],
        nodes: [{ node: 'lb-1', revision: 12, active: 'green' }, { node: 'lb-2', revision: 9, active: 'blue' }],
      },
    ],
    problems: [],
    nodes: [
      { node: 'lb-1', revision: 12, configHash: 'aaaaaaaaaaaaaaaa', appliedAt: '2025-01-01T00:00:00.000Z' },
      { node: 'lb-2', revision: 9, configHash: null, appliedAt: null },
    ],
    errors: ['HAProxy admin socket /run/admin.sock: connection refused'],
    applies: [],
  };
  t.equal(formatStatus(view), [
    'VHOST             LIVE   UP/READY PER COLOUR                lb-1   lb-2',
    'bad.example.com   -      -                                  -      -',
    'shop.example.com  green  blue 2/2  green 1/3 (2 unchecked)  green  blue',
    '',
    'NODE              REVISION  CONFIG            APPLIED AT',
    'lb-1 (this node)  12        aaaaaaaaaaaaaaaa  2025-01-01T00:00:00.000Z',
    'lb-2              9         -                 never',
    '',
    'problems:',
    '  SPEC_INVALID etcd key /p/vhosts/bad.example.com/spec: not valid JSON',
    '',
    'incomplete answer:',
    '  HAProxy admin socket /run/admin.sock: connection refused',
    '',
  ].join('\n'));
  t.equal(columns([['a', 'bb'], ['ccc', 'd']]), 'a    bb\nccc  d\n');
});
