// Entry point of the single executable: what src/cli/bin.ts does, without top-level await
// (Node 20 runs a single executable's main script as CommonJS, which has none).
// v8-flags must be evaluated before main.js pulls in everything else (the bundle keeps import order).
import '../src/cli/v8-flags.js';
import { main } from '../src/cli/main.js';

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  // Let stdout drain (pipes are asynchronous), then exit even if a library left a handle open.
  (code) => process.stdout.write('', () => process.exit(code)),
  (err: unknown) => {
    process.stderr.write(`beacon: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
