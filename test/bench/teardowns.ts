/** Teardown callbacks for code outside tap (benchmarks), run last-registered first. */
import type { Teardown } from '../helpers/tmp.ts';

export class Teardowns implements Teardown {
  private readonly fns: Array<() => void | Promise<void>> = [];

  teardown(fn: () => void | Promise<void>): void {
    this.fns.push(fn);
  }

  async run(): Promise<void> {
    for (const fn of this.fns.splice(0).reverse()) await fn();
  }
}
