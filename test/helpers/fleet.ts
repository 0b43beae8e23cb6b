/** Three load balancers on one etcd: waiting for them to agree. */
import { spawn } from 'node:child_process';
import { waitUntil } from '../../src/demo/processes.ts';
import { readNodes, type NodeStatus } from '../../src/fleet/nodes.ts';
import { PREFIX, blueGreenSpec, type LbNode, type TestEnv } from './env.ts';

export const HOST = 'shop.example.com';
export const NODES = ['lb-1', 'lb-2', 'lb-3'];
export const SPEC = blueGreenSpec('web', { health: { path: '/healthz', minReady: 1 } });

export interface FlipBody {
  host: string;
  from: string;
  to: string;
  revision: number;
  nodes: Array<{ node: string; applied: boolean; revision: number }>;
}
export interface ErrorBody {
  error: { code: string; message: string; nodes?: FlipBody['nodes'] };
}

/** Every named node has a status key and has applied at least `revision`. */
export async function fleetAt(env: TestEnv, names: readonly string[], revision = 1): Promise<NodeStatus[]> {
  let nodes: NodeStatus[] = [];
  await waitUntil(`nodes ${names.join(', ')} at revision ${revision}`, async () => {
    nodes = await readNodes(env.client, PREFIX);
    return names.every((n) => nodes.some((s) => s.node === n && s.revision >= revision));
  }, 20000);
  return nodes;
}

export async function servesEverywhere(nodes: readonly LbNode[], colour: string): Promise<void> {
  await Promise.all(nodes.map((n) => n.until(HOST, { body: colour })));
}

export function etcdctl(endpoint: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}
