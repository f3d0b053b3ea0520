// `beacon validate FILE`: load and check an agent config exactly as the agent would, without running.
// Files are read without blocking (src/util/file.ts); should anything still block (a hung network
// filesystem), SIGTERM or SIGINT ends the command at once instead of waiting for the read.
import { once } from 'node:events';
import { ExitCode, type Command } from '../command.js';
import { commandConfig } from '../load-config.js';
import { reportConfigError } from '../report.js';

/** The `validate` subcommand. */
export const validateCommand: Command = {
  name: 'validate',
  summary: 'check a config file without running anything (exit 2 on errors)',
  usage: 'beacon validate FILE',
  options: {},
  maxArgs: 1,
  flags: [],
  exits: { failure: 'interrupted', usage: 'FILE missing or invalid (every problem is printed)' },
  examples: ['beacon validate /etc/beacon/agent.yaml'],
  async run(ctx) {
    const file = ctx.positionals[0] ?? ctx.values.config;
    if (typeof file !== 'string') {
      ctx.stderr.write('beacon validate: FILE is required\n');
      return ExitCode.usage;
    }
    const stopped = new AbortController();
    const interrupted = once(ctx.signal, 'abort', { signal: stopped.signal }).then(
      () => 'interrupted' as const,
      () => 'interrupted' as const,
    );
    try {
      const cfg = await Promise.race([commandConfig(ctx, file), interrupted]);
      if (cfg === 'interrupted') {
        ctx.stderr.write(`beacon validate: interrupted while checking ${file}\n`);
        return ExitCode.failure;
      }
      ctx.stdout.write(`${file}: ok (node ${cfg.node.name}, ${cfg.services.length} services)\n`);
      return ExitCode.ok;
    } catch (err) {
      return reportConfigError(ctx, err, file);
    } finally {
      stopped.abort();
    }
  },
};
