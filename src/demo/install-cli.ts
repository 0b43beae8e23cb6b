/** `npm test` runs this first: the tests need real haproxy and etcd, installed here when root. */
import { ensureSystemPackages } from './install.ts';

const problem = ensureSystemPackages();
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 1;
}
