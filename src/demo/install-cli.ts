/** `npm test` runs this first: the tests need real haproxy, etcd and Chromium, installed here when root. */
import { ensureSystemPackages, TEST_NEEDS } from './install.ts';

const problem = ensureSystemPackages(TEST_NEEDS);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 1;
}
