/** Small statistics helpers for benchmark scenarios. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[index] ?? Number.NaN);
}

export function summary(samples: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  return { n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: percentile(samples, 100) };
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The median time of each step of a sync (desired state, plan, render, runtime or reload), from the daemon's log lines. */
export function stagesP50(stages: readonly unknown[]): Record<string, number> {
  const byStage = new Map<string, number[]>();
  for (const record of stages) {
    if (typeof record !== 'object' || record === null) continue;
    for (const [stage, ms] of Object.entries(record)) if (typeof ms === 'number') byStage.set(stage, [...(byStage.get(stage) ?? []), ms]);
  }
  return Object.fromEntries([...byStage].map(([stage, ms]) => [stage, summary(ms).p50]));
}
