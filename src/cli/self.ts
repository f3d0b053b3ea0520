// How to run this same beacon again as a child process (`beacon demo` starts agents and a watcher): node
// with the script it was started with, or the single executable alone (its argv[1] is itself, not a script).
import { isSea } from 'node:sea';
import type { BeaconCommand } from '../demo/child.js';

/** The program and leading arguments that run this beacon. */
export function selfCommand(): BeaconCommand {
  if (isSea() || process.argv[1] === undefined) return { file: process.execPath, args: [] };
  return { file: process.execPath, args: [process.argv[1]] };
}
