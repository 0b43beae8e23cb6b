import { readFileSync } from 'node:fs';
import t from 'tap';
import { ERROR_CODES } from '../../src/errors.ts';
import { Metrics } from '../../src/http/metrics.ts';

const GUIDE = readFileSync(new URL('../../docs/operator-guide.md', import.meta.url), 'utf8');

/** The text under a "## <title>" heading, up to the next "## " heading. */
function section(title: string): string {
  const start = GUIDE.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/operator-guide.md has no "## ${title}" section`);
  const end = GUIDE.indexOf('\n## ', start + 1);
  return GUIDE.slice(start, end < 0 ? undefined : end);
}

/** First-column values of the section's table rows, without backticks. */
function firstColumn(text: string): string[] {
  return [...text.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] ?? '');
}

t.test('"Error codes" documents every code in ERROR_CODES, and no other', async (t) => {
  const documented = firstColumn(section('Error codes'));
  t.same([...documented].sort(), Object.keys(ERROR_CODES).sort());
});

t.test('"Metrics" documents every haproxy_sync_ metric the daemon exports, and no other', async (t) => {
  const metrics = new Metrics({ version: 'test', sources: () => [] });
  const exported = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('haproxy_sync_'));
  t.ok(exported.length >= 18, `${exported.length} metrics exported`);
  t.same(firstColumn(section('Metrics')).sort(), exported.sort());
});

t.test('the README links the operator guide', async (t) => {
  t.match(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'), '(docs/operator-guide.md)');
});
