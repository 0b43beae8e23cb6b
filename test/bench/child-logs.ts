/** The JSON log lines of a child daemon, parsed as they arrive and stamped with the time they arrived. */
import type { Readable } from 'node:stream';

export interface LogLine {
  readonly at: number;
  readonly record: Record<string, unknown>;
}

export class ChildLogs {
  readonly lines: LogLine[] = [];
  private partial = '';

  constructor(stream: Readable | null) {
    stream?.on('data', (chunk: Buffer) => this.feed(chunk.toString('utf8')));
  }

  /** Lines whose message starts with "applied by" (one per apply that changed something), from index `from`. */
  applies(from = 0): LogLine[] {
    return this.lines.slice(from).filter((l) => String(l.record['msg'] ?? '').startsWith('applied by'));
  }

  private feed(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    const at = performance.now();
    for (const part of parts) {
      if (!part.startsWith('{')) continue;
      try {
        this.lines.push({ at, record: JSON.parse(part) as Record<string, unknown> });
      } catch {
        // A line that is not JSON is not a log record.
      }
    }
  }
}
