/**
 * `npm run bench [-- scenario ...]`: runs benchmark scenarios and writes one
 * JSON document to stdout and to bench-results/<timestamp>.json. Compare
 * ratios within one run; absolute times vary with the machine and its load.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, cpus, totalmem } from 'node:os';

export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(): Promise<Record<string, unknown>>;
}

const dir = join(import.meta.dirname, 'scenarios');
const wanted = process.argv.slice(2);
const results: Record<string, unknown> = {};
for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
  const { scenario } = (await import(join(dir, file))) as { scenario: Scenario };
  if (wanted.length > 0 && !wanted.includes(scenario.name)) continue;
  process.stderr.write(`bench: ${scenario.name}...\n`);
  const started = performance.now();
  try {
    results[scenario.name] = { description: scenario.description, ...(await scenario.run()), wallSeconds: round((performance.now() - started) / 1000) };
  } catch (err) {
    results[scenario.name] = { description: scenario.description, error: err instanceof Error ? err.message : String(err) };
  }
}
const doc = {
  at: new Date().toISOString(),
  node: process.version,
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30) },
  results,
};
const out = join(import.meta.dirname, '../../bench-results');
mkdirSync(out, { recursive: true });
const text = `${JSON.stringify(doc, null, 2)}\n`;
writeFileSync(join(out, `${doc.at.replace(/[:.]/g, '-')}.json`), text);
process.stdout.write(text);

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
