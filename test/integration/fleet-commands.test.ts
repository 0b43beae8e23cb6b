import t from 'tap';
import { cli } from '../helpers/cli.ts';
import { startFleet } from '../helpers/env.ts';
import { HOST, NODES, SPEC, fleetAt, servesEverywhere } from '../helpers/fleet.ts';

t.test('flip and status commands talk to the API', async (t) => {
  const { env, nodes } = await startFleet(t, NODES);
  await Promise.all(nodes.map((n) => n.startDaemon()));
  await env.putSpec(HOST, SPEC);
  await env.putSpec('bad.example.com', '{"backends": ');
  await servesEverywhere(nodes, 'blue');
  await fleetAt(env, NODES);
  const config = ['--config', nodes[0]!.configFile];

  const flipped = await cli(['flip', HOST, 'green', ...config]);
  t.equal(flipped.code, 0, flipped.stderr);
  t.match(flipped.stdout, new RegExp(`^${HOST}: blue → green \\(etcd revision \\d+\\)\\n`));
  for (const n of NODES) t.match(flipped.stdout, new RegExp(`^  ${n}  applied \\(at revision \\d+\\)$`, 'm'), `names ${n}`);
  for (const node of nodes) t.match((await node.get(HOST)).body, /^green/, `${node.name} serves green when the command returns`);

  const status = await cli(['status', ...config]);
  t.equal(status.code, 0, status.stderr);
  const [header, row] = status.stdout.split('\n');
  t.match(header, /^VHOST +LIVE +UP\/READY PER COLOUR +lb-1 +lb-2 +lb-3$/);
  t.match(status.stdout, new RegExp(`^bad\\.example\\.com +- +- +- +- +-$`, 'm'), 'a broken vhost is listed');
  t.match(row, /^bad\.example\.com/);
  const unchecked = '(?: \\(\\d unchecked\\))?';
  t.match(status.stdout, new RegExp(`^${HOST.replace(/\./g, '\\.')} +green +blue \\d/2${unchecked}  green \\d/2${unchecked} +green +green +green$`, 'm'));
  t.match(status.stdout, /^NODE +REVISION +CONFIG +APPLIED AT$/m);
  t.match(status.stdout, /^lb-1 \(this node\) +\d+ +[0-9a-f]{16} +\d{4}-\d\d-\d\dT/m);
  t.match(status.stdout, /SPEC_INVALID etcd key \/haproxy-sync\/vhosts\/bad\.example\.com\/spec: not valid JSON/);

  const noWait = await cli(['flip', HOST, 'blue', '--no-wait', '--expect', 'green', ...config]);
  t.equal(noWait.code, 0, noWait.stderr);
  t.match(noWait.stdout, /not waiting for the nodes/);
  await servesEverywhere(nodes, 'blue');

  const refused = await cli(['flip', HOST, 'purple', ...config]);
  t.equal(refused.code, 1, 'an unknown colour is refused');
  t.match(refused.stderr, /flip refused: "purple" is not a colour of shop\.example\.com \(colours: blue, green\) \[NOT_FOUND\]/);
  const conflict = await cli(['flip', HOST, 'green', '--expect', 'green', ...config]);
  t.equal(conflict.code, 1);
  t.match(conflict.stderr, /\[FLIP_CONFLICT\]/);

  t.equal((await cli(['flip', HOST, ...config])).code, 2, 'a missing argument exits 2');
  t.equal((await cli(['flip', HOST, 'Green!', ...config])).code, 2, 'a malformed colour exits 2');
  t.equal((await cli(['flip', HOST, 'green', '--timeout-ms', 'soon', ...config])).code, 2, 'a bad flag value exits 2');
  const unreachable = await cli(['status', '--api', 'http://127.0.0.1:1', ...config]);
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, /cannot reach the haproxy-sync API at http:\/\/127\.0\.0\.1:1/);
  for (const cmd of ['flip', 'status']) {
    const help = await cli([cmd, '--help']);
    t.equal(help.code, 0);
    t.match(help.stdout, new RegExp(`^Usage: haproxy-sync ${cmd}`));
  }
});
