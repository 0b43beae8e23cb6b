/** A small argv parser: positional words, `--flag value`, `--flag=value`, and boolean switches. */
import { SyncError } from './errors.ts';

export interface ParsedArgs {
  readonly positional: readonly string[];
  readonly flags: Readonly<Record<string, string>>;
  readonly switches: ReadonlySet<string>;
}

export function parseArgs(argv: readonly string[], opts: { flags: readonly string[]; switches: readonly string[] }): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (opts.switches.includes(name)) {
      if (eq !== -1) throw new SyncError('USAGE', `--${name} takes no value`);
      switches.add(name);
    } else if (opts.flags.includes(name)) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new SyncError('USAGE', `--${name} needs a value`);
      flags[name] = value;
    } else {
      throw new SyncError('USAGE', `unknown flag --${name} (see --help)`);
    }
  }
  return { positional, flags, switches };
}
