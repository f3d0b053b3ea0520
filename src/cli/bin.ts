// Process entry: run the CLI on this process's argv and exit with its code.
import v8 from 'node:v8';

// The agent idles 99.9 % of the time; V8's optimising tiers (Sparkplug, TurboFan) cost ~17 MiB of
// RSS for code that never gets hot, and the agent's budget is 64 MiB (docs/benchmarks.md). The
// flags must be set before any other module loads; BEACON_V8_OPTIMIZE=1 keeps V8's defaults.
if (process.argv[2] === 'agent' && !process.env.BEACON_V8_OPTIMIZE) {
  v8.setFlagsFromString('--no-opt');
  v8.setFlagsFromString('--no-sparkplug');
}

const { main } = await import('./main.js');
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Let stdout drain (pipes are asynchronous), then exit even if a library left a handle open.
process.stdout.write('', () => process.exit(code));
