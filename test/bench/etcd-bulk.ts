/** Writing many etcd keys fast: concurrent puts, so etcd batches them into few fsyncs. */
import type { TestEnv } from '../helpers/env.ts';

const CONCURRENCY = 64;

/** Puts every entry under the env's prefix; `entries` keys are relative to it. */
export async function putAll(env: Pick<TestEnv, 'put'>, entries: Readonly<Record<string, { value: string }>>): Promise<void> {
  const keys = Object.keys(entries);
  for (let i = 0; i < keys.length; i += CONCURRENCY) {
    await Promise.all(keys.slice(i, i + CONCURRENCY).map((key) => env.put(key, entries[key]?.value ?? '')));
  }
}
