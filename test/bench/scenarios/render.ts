/** Render time, and render + `haproxy -c` + confirmed reload, at 100, 1,000 and 10,000 vhosts × 10 servers. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDesired } from '../../../src/core/desired.ts';
import type { RenderSettings } from '../../../src/core/model.ts';
import { render } from '../../../src/core/render.ts';
import { layoutSlots } from '../../../src/core/slots.ts';
import { haproxyBinary } from '../../../src/demo/haproxy-binary.ts';
import { bootstrapConfig, freePort, startHaproxy } from '../../../src/demo/processes.ts';
import { ReloadApplier } from '../../../src/haproxy/apply.ts';
import { MasterClient } from '../../../src/haproxy/master.ts';
import { BUNDLED_TEMPLATES, readTemplates } from '../../../src/sources/templates.ts';
import { syntheticInputs } from '../fixtures.ts';
import type { Scenario } from '../run.ts';
import { round } from '../stats.ts';

const SIZES = [100, 1000, 10000];
const SERVERS = 10;

export const scenario: Scenario = {
  name: 'render',
  description: `render time, and render + haproxy -c + confirmed reload, for N vhosts × ${SERVERS} servers (2 colours each, no health checks: with checks HAProxy needs a file descriptor per server, past this machine's limit of 20,000)`,
  async run() {
    const templates = await readTemplates([BUNDLED_TEMPLATES]);
    const out: Record<string, unknown> = {};
    for (const n of SIZES) {
      const dir = mkdtempSync(join(tmpdir(), 'hs-bench-'));
      try {
        const settings: RenderSettings = { node: 'bench', adminSocket: join(dir, 'admin.sock'), mapsDir: join(dir, 'maps'), bind: [[`127.0.0.1:${await freePort()}`]], spareSlots: 4 };
        const { etcd, services } = syntheticInputs(n, SERVERS);
        const renderOnce = () => {
          const desired = buildDesired(etcd, [services]);
          const layout = layoutSlots(desired.vhosts.flatMap((v) => v.backends), settings.spareSlots, null);
          return render(desired, layout, settings, templates);
        };
        renderOnce();
        const renderMs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          renderOnce();
          renderMs.push(performance.now() - t0);
        }
        const config = join(dir, 'haproxy.cfg');
        writeFileSync(config, bootstrapConfig(settings.adminSocket));
        const haproxy = await startHaproxy({ config, masterSocket: join(dir, 'master.sock'), pidFile: join(dir, 'pid') });
        try {
          const applier = new ReloadApplier({ binary: haproxyBinary(), config, mapsDir: settings.mapsDir }, new MasterClient({ socket: join(dir, 'master.sock') }));
          const t0 = performance.now();
          const rendered = renderOnce();
          const t1 = performance.now();
          const outcome = await applier.apply(rendered);
          const t2 = performance.now();
          if (!outcome.ok) throw new Error(`${outcome.message}\n${haproxy.output()}`);
          out[`vhosts_${n}`] = {
            renderMs: round(Math.min(...renderMs)),
            configBytes: rendered.config.length,
            renderCheckReloadMs: round(t2 - t0),
            checkMs: round(outcome.check.durationMs),
            reloadMs: round(outcome.reloadMs),
            applyMs: round(t2 - t1),
          };
        } finally {
          await haproxy.stop();
        }
      } finally {
        if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
      }
    }
    return out;
  },
};
