// The registry of subcommands: add one line per command (no registration by import side effect).
import type { Command } from '../command.js';
import { agentCommand } from './agent.js';
import { demoCommand } from './demo.js';
import { nodesCommand } from './nodes.js';
import { servicesCommand } from './services.js';
import { validateCommand } from './validate.js';

/** Every `beacon` subcommand by name. */
export const commands: Record<string, Command> = Object.fromEntries(
  [agentCommand, demoCommand, nodesCommand, servicesCommand, validateCommand].map((c) => [c.name, c]),
);
