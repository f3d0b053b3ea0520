// The registry of subcommands: add one line per command (no registration by import side effect).
import type { Command } from '../command.js';
import { agentCommand } from './agent.js';
import { capacityCommand } from './capacity.js';
import { checkCommand } from './check.js';
import { demoCommand } from './demo.js';
import { describeCommand } from './describe.js';
import { doctorCommand } from './doctor.js';
import { endpointsCommand } from './endpoints.js';
import { eventsCommand } from './events.js';
import { explainCommand } from './explain.js';
import { ignitionCommand } from './ignition.js';
import { maintCommand } from './maint.js';
import { nodesCommand } from './nodes.js';
import { servicesCommand } from './services.js';
import { validateCommand } from './validate.js';
import { watcherCommand } from './watcher.js';
import { watchCommand } from './watch.js';
import { renderCommand } from './render.js';
import { rbacCommand } from './rbac.js';

/** Every `beacon` subcommand by name. */
export const commands: Record<string, Command> = Object.fromEntries(
  [agentCommand, capacityCommand, checkCommand, maintCommand, demoCommand, ignitionCommand, nodesCommand, servicesCommand, validateCommand, doctorCommand, watcherCommand, endpointsCommand, describeCommand, eventsCommand, explainCommand, watchCommand, renderCommand, rbacCommand].map((c) => [c.name, c]),
);
