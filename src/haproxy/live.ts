/**
 * Reads what HAProxy runs now over its sockets, for drift detection: every
 * map the config loads, every server's address, port and admin state, and
 * the master's PID (a new one means HAProxy was restarted, not reloaded).
 */
import type { LiveServer, LiveState } from '../core/drift.ts';
import { mapPath } from '../core/render.ts';
import { isHaproxyError } from './errors.ts';
import type { MasterClient } from './master.ts';
import type { RuntimeClient } from './runtime.ts';

export interface LiveReading extends LiveState {
  readonly masterPid: number;
}

export async function readLive(
  api: Pick<RuntimeClient, 'showMap' | 'showServersState'>,
  master: Pick<MasterClient, 'showProc'>,
  paths: { readonly mapsDir: string },
  mapFiles: readonly string[],
): Promise<LiveReading> {
  const proc = await master.showProc();
  // A map HAProxy does not know is refused: left out here, so the comparison reports it missing.
  const readMap = (file: string): Promise<Map<string, string> | null> =>
    api.showMap(mapPath(paths, file)).catch((err: unknown) => {
      if (isHaproxyError(err, 'HAPROXY_COMMAND_FAILED')) return null;
      throw err;
    });
  const [servers, ...maps] = await Promise.all([api.showServersState(), ...mapFiles.map(readMap)]);
  const byBackend: Record<string, LiveServer[]> = {};
  for (const s of servers) (byBackend[s.backend] ??= []).push({ name: s.name, addr: s.addr, port: s.port, adminState: s.adminState });
  const byMap: Record<string, ReadonlyMap<string, string>> = {};
  mapFiles.forEach((file, i) => {
    const m = maps[i];
    if (m) byMap[file] = m;
  });
  return { masterPid: proc.master.pid, maps: byMap, servers: byBackend };
}
