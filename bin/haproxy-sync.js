#!/usr/bin/env node
// The sources are TypeScript run by Node's own type stripping (Node >= 24), so there is no build step.
import { main } from '../src/main.ts';

process.exitCode = await main(process.argv.slice(2));
