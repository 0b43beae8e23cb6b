/** `haproxy-sync check`: the config, the templates and the rendered output, validated by `haproxy -c`. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { writeCertificateFiles } from '../haproxy/certificates.ts';
import { checkConfig } from '../haproxy/check.ts';
import { ensureDefaultCertificate } from '../haproxy/default-certificate.ts';
import { printProblems, renderOnce } from './render.ts';

export const CHECK_HELP = `Usage: haproxy-sync check [--config FILE] [options]

Validates the daemon config, the templates, and the config they render
from the current sources with \`haproxy -c\`. Exit 0 valid, 1 invalid,
2 for a bad config file or flags. Bad vhosts are listed but do not fail
the check: the daemon leaves them out.`;

export async function checkCommand(config: Config, log: Logger): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'haproxy-sync-check-'));
  try {
    const certsDir = join(dir, 'certs');
    const { desired, rendered } = await renderOnce(config, log, dir, certsDir);
    for (const [name, text] of Object.entries(rendered.maps)) await writeFile(join(dir, name), text);
    if (config.haproxy.bindTls.length > 0) {
      await ensureDefaultCertificate(certsDir);
      await writeCertificateFiles(certsDir, rendered.certificates ?? {});
    }
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, rendered.config);
    const result = await checkConfig(config.haproxy.binary, file);
    printProblems(desired);
    if (!result.ok) {
      process.stderr.write(`invalid: haproxy -c rejected the rendered config:\n${result.messages.map((m) => `  ${m}`).join('\n')}\n`);
      return 1;
    }
    process.stdout.write(`valid: ${desired.vhosts.length} vhosts, ${desired.problems.length} problems, haproxy -c passed\n`);
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
