/** `haproxy-sync render`: read the sources once, print what the daemon would write. */
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { buildDesired } from '../core/desired.ts';
import type { DesiredState, Rendered } from '../core/model.ts';
import { CRT_LIST, mapPath, render } from '../core/render.ts';
import { mergeCertificates } from '../core/tls.ts';
import { layoutSlots } from '../core/slots.ts';
import { createSources, readOnce, renderSettings, stopSources } from '../wiring.ts';
import type { CertificatesSnapshot, ServicesSnapshot } from '../core/model.ts';

export const RENDER_HELP = `Usage: haproxy-sync render [--config FILE] [options]

Reads etcd, the endpoint sources and the templates once, and prints the
haproxy.cfg and map files the daemon would write. Writes nothing.
Problems (bad vhosts) are listed on stderr.`;

export interface RenderedOnce {
  readonly desired: DesiredState;
  readonly rendered: Rendered;
}

/** Reads every source once and renders; `mapsDir` can point the config at other map files (for checking). */
export async function renderOnce(config: Config, log: Logger, mapsDir = config.haproxy.mapsDir, certsDir = config.haproxy.certsDir): Promise<RenderedOnce> {
  const sources = createSources(config, log);
  try {
    await readOnce(sources, 15000);
    const etcd = sources.etcd.snapshot();
    const templates = sources.templates.snapshot();
    if (!etcd || !templates) throw new Error('sources reported synced without a snapshot');
    const services = sources.services.map((s) => s.snapshot()).filter((s): s is ServicesSnapshot => s !== null);
    const certificates = mergeCertificates(sources.certificates.map((s) => s.snapshot()).filter((s): s is CertificatesSnapshot => s !== null));
    const desired = buildDesired(etcd, services, {}, 0, { certificates, nowMs: Date.now(), previous: null });
    const base = renderSettings(config);
    const settings = { ...base, mapsDir, tls: base.tls ? { ...base.tls, certsDir } : null };
    const layout = layoutSlots(desired.vhosts.flatMap((v) => v.backends), settings.spareSlots, null);
    return { desired, rendered: render(desired, layout, settings, templates) };
  } finally {
    await stopSources(sources);
  }
}

export async function renderCommand(config: Config, log: Logger): Promise<number> {
  const { desired, rendered } = await renderOnce(config, log);
  const settings = renderSettings(config);
  let out = rendered.config;
  for (const [name, text] of Object.entries(rendered.maps)) out += `\n# ---- map file ${mapPath(settings, name)} ----\n${text}`;
  // Certificates themselves hold keys: only the crt-list is printed.
  const crtList = rendered.certificates?.[CRT_LIST];
  if (crtList !== undefined) out += `\n# ---- ${config.haproxy.certsDir}/${CRT_LIST} ----\n${crtList}`;
  process.stdout.write(out);
  printProblems(desired);
  return 0;
}

export function printProblems(desired: DesiredState): void {
  for (const p of desired.problems) process.stderr.write(`problem ${p.code}: ${p.source}: ${p.message}\n`);
}
