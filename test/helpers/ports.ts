export { freePort } from '../../src/demo/processes.ts';
