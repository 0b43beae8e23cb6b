/** Another process's memory, sampled from /proc/<pid>/status (Linux). */
import { readFileSync } from 'node:fs';

export interface MemorySample {
  /** Resident set size now, MiB. */
  readonly rssMiB: number;
  /** Peak resident set size since the process started, MiB. */
  readonly hwmMiB: number;
}

export function readMemory(pid: number): MemorySample | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rssMiB: Math.round(kib('VmRSS') / 102.4) / 10, hwmMiB: Math.round(kib('VmHWM') / 102.4) / 10 };
}

/** Samples a process every `everyMs` until stopped; `max(since)` is the highest RSS seen from that time on. */
export class MemorySampler {
  private readonly samples: Array<{ at: number; rssMiB: number }> = [];
  private readonly timer: NodeJS.Timeout;
  private last: MemorySample | null = null;
  private readonly pid: number;

  constructor(pid: number, everyMs = 250) {
    this.pid = pid;
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  sample(): MemorySample | null {
    const m = readMemory(this.pid);
    if (m) {
      this.last = m;
      this.samples.push({ at: performance.now(), rssMiB: m.rssMiB });
    }
    return m;
  }

  maxRss(since = 0): number {
    return Math.max(...this.samples.filter((s) => s.at >= since).map((s) => s.rssMiB));
  }

  latest(): MemorySample | null {
    return this.last;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The soft and hard "Max open files" of a process, from /proc/<pid>/limits. */
export function openFilesLimit(pid: number | 'self'): { soft: number; hard: number } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft = Number.NaN, hard = Number.NaN] = line.replace('Max open files', '').trim().split(/\s+/).map(Number);
  return { soft, hard };
}
