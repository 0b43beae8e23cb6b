/**
 * How long a confirmed reload takes on each HAProxy series: 2.6 is confirmed
 * by polling `show proc`, 2.7+ by the master's own answer. The versions take
 * turns, reload after reload, so the machine's load weighs on each alike;
 * compare the ratios to 2.6.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapConfig, freePort, startHaproxy, type HaproxyProcess } from '../../../src/demo/processes.ts';
import { MasterClient } from '../../../src/haproxy/master.ts';
import { TESTED_SERIES } from '../../../src/haproxy/version.ts';
import type { Scenario } from '../run.ts';
import { round, summary } from '../stats.ts';

const CACHE = process.env.HAPROXY_VERSIONS_DIR ?? '/var/cache/haproxy-sync-test';
const BACKENDS = 1000;
const ROUNDS = 10;

interface Running {
  readonly series: string;
  readonly haproxy: HaproxyProcess;
  readonly master: MasterClient;
  readonly dir: string;
  readonly samples: number[];
}

export const scenario: Scenario = {
  name: 'reload-versions',
  description: `confirmed reload time (ms) of a ${BACKENDS}-backend config on each HAProxy series in ${CACHE} (test/haproxy-versions/install.sh), taking turns; ratio: p50 against 2.6`,
  async run() {
    const running: Running[] = [];
    try {
      for (const series of TESTED_SERIES) {
        const binary = join(CACHE, series, 'haproxy');
        if (!existsSync(binary)) continue;
        const dir = mkdtempSync(join(tmpdir(), 'hs-bench-'));
        const config = join(dir, 'haproxy.cfg');
        const backends = Array.from({ length: BACKENDS }, (_, i) => `backend be_${i}\n    server s1 127.0.0.1:1 disabled\n`).join('');
        writeFileSync(config, `${bootstrapConfig(join(dir, 'admin.sock'))}frontend fe\n    bind 127.0.0.1:${await freePort()}\n${backends}`);
        const haproxy = await startHaproxy({ config, masterSocket: join(dir, 'master.sock'), pidFile: join(dir, 'pid'), binary });
        running.push({ series, haproxy, dir, master: new MasterClient({ socket: join(dir, 'master.sock') }), samples: [] });
      }
      for (const r of running) await reloadOnce(r); // warm-up
      for (let i = 0; i < ROUNDS; i++) {
        for (const r of running) r.samples.push(await reloadOnce(r));
      }
      const base = running.find((r) => r.series === '2.6');
      const out: Record<string, unknown> = {};
      for (const r of running) {
        const s = summary(r.samples);
        out[`haproxy_${r.series}`] = { version: r.master.version()?.full, confirmMs: s, ratioTo26: base ? round(s.p50 / summary(base.samples).p50) : null };
      }
      return out;
    } finally {
      for (const r of running) {
        await r.haproxy.stop();
        rmSync(r.dir, { recursive: true, force: true });
      }
    }
  },
};

async function reloadOnce(r: Running): Promise<number> {
  const t0 = performance.now();
  const result = await r.master.reload();
  if (!result.ok) throw new Error(`HAProxy ${r.series}: ${result.reason}\n${r.haproxy.output()}`);
  return performance.now() - t0;
}
