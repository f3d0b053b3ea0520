// `beacon validate FILE`: load and check an agent config exactly as the agent would, without running.
import { ExitCode, type Command } from '../command.js';
import { commandConfig } from '../load-config.js';
import { reportConfigError } from '../report.js';

/** The `validate` subcommand. */
export const validateCommand: Command = {
  name: 'validate',
  summary: 'check a config file without running anything (exit 2 on errors)',
  usage: 'beacon validate FILE',
  options: {},
  async run(ctx) {
    const file = ctx.positionals[0] ?? ctx.values.config;
    if (typeof file !== 'string') {
      ctx.stderr.write('beacon validate: FILE is required\n');
      return ExitCode.usage;
    }
    try {
      const cfg = await commandConfig(ctx, file);
      ctx.stdout.write(`${file}: ok (node ${cfg.node.name}, ${cfg.services.length} services)\n`);
      return ExitCode.ok;
    } catch (err) {
      return reportConfigError(ctx, err, file);
    }
  },
};
