/** CLI entry: parse argv, dispatch to a command, map errors to exit codes. */
import { errorCode, errorMessage } from './errors.ts';
import { createLogger } from './log.ts';
import { CONFIG_FLAGS_HELP, configFromArgs, parseConfigArgs } from './commands/common.ts';

const USAGE = `Usage: haproxy-sync <command> [options]

Keeps HAProxy in step with Kubernetes and etcd.

Commands:
  run      the daemon
  render   print the haproxy.cfg and maps the daemon would write
  check    validate the daemon config, the templates and the rendered output
  flip     make a colour live for a vhost, through the daemon's API, and wait for the fleet
  status   table of vhosts, live colours, server health per colour, and every node's state
  history  the flip ledger of a vhost: every change of its live colour, why, and which load balancers served it
Run "haproxy-sync <command> --help" for a command's options.`;

/** Exit codes: 0 ok, 1 failed or invalid, 2 bad flags or a bad config file. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      // Commands load their modules on demand: the Kubernetes client alone takes seconds to load,
      // and flip, status and a mistyped flag should answer at once.
      case 'run': {
        const { RUN_HELP, runCommand } = await import('./commands/run.ts');
        return await configCommand(rest, RUN_HELP, 'stdout', runCommand);
      }
      case 'render': {
        const { RENDER_HELP, renderCommand } = await import('./commands/render.ts');
        return await configCommand(rest, RENDER_HELP, 'stderr', renderCommand);
      }
      case 'check': {
        const { CHECK_HELP, checkCommand } = await import('./commands/check.ts');
        return await configCommand(rest, CHECK_HELP, 'stderr', checkCommand);
      }
      case 'flip':
        return await (await import('./commands/flip.ts')).flipCommand(rest);
      case 'status':
        return await (await import('./commands/status.ts')).statusCommand(rest);
      case 'history':
        return await (await import('./commands/history.ts')).historyCommand(rest);
      case undefined:
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`haproxy-sync: unknown command "${command}"\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    const code = errorCode(err);
    process.stderr.write(`haproxy-sync: ${errorMessage(err)}${code === 'INTERNAL' ? '' : ` [${code}]`}\n`);
    return ['USAGE', 'CONFIG_INVALID', 'CONFIG_UNREADABLE'].includes(code) ? 2 : 1;
  }
}

async function configCommand(
  argv: readonly string[],
  help: string,
  logTo: 'stdout' | 'stderr',
  command: (config: ReturnType<typeof configFromArgs>, log: ReturnType<typeof createLogger>) => Promise<number>,
): Promise<number> {
  const args = parseConfigArgs(argv);
  if (args.switches.has('help')) {
    process.stdout.write(`${help}\n\n${CONFIG_FLAGS_HELP}\n`);
    return 0;
  }
  if (args.positional.length > 0) throw Object.assign(new Error(`unexpected argument "${args.positional[0]}"`), { code: 'USAGE' });
  const config = configFromArgs(args);
  return command(config, createLogger(config.log.level, logTo));
}
