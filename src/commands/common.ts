/** Flags and config loading shared by the commands that read the daemon config. */
import { configFlags, DEFAULT_CONFIG_FILE, loadConfig, type Config } from '../config.ts';
import { parseArgs, type ParsedArgs } from '../args.ts';

export const CONFIG_FLAGS_HELP = `Options:
  --config FILE        daemon config (default ${DEFAULT_CONFIG_FILE}; without it, built-in defaults)
  --<field> VALUE      override a config field, e.g. --node lb-2, --etcd-endpoints http://10.0.0.5:2379,
                       --haproxy-config /tmp/haproxy.cfg, --log-level debug (flags override
                       HAPROXY_SYNC_* environment variables, which override the file)
  --help               show this help`;

export function parseConfigArgs(argv: readonly string[], extraSwitches: readonly string[] = [], extraFlags: readonly string[] = []): ParsedArgs {
  return parseArgs(argv, { flags: ['config', ...configFlags().keys(), ...extraFlags], switches: ['help', ...extraSwitches] });
}

export function configFromArgs(args: ParsedArgs): Config {
  const byFlag = configFlags();
  const overrides: Record<string, string> = {};
  for (const [flag, value] of Object.entries(args.flags)) {
    const path = byFlag.get(flag);
    if (path) overrides[path] = value;
  }
  const explicit = args.flags['config'] ?? process.env['HAPROXY_SYNC_CONFIG'];
  return loadConfig({ file: explicit ?? DEFAULT_CONFIG_FILE, required: explicit !== undefined, env: process.env, flags: overrides });
}
