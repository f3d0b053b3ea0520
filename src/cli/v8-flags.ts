// Imported first by the process entry points (src/cli/bin.ts, scripts/artifact-entry.ts), before
// any other module loads: V8 flags set later do not apply to code already compiled.
//
// The agent idles 99.9 % of the time; V8's optimising tiers (Sparkplug, TurboFan) cost ~17 MiB of
// RSS for code that never gets hot, and the agent's budget is 64 MiB (docs/benchmarks.md).
// --optimize-for-size keeps the old generation small when 50 checks a second make short-lived
// garbage (72 -> 64 MiB for about one point of CPU, docs/benchmarks.md). BEACON_V8_OPTIMIZE=1
// keeps V8's defaults.
import v8 from 'node:v8';

if (process.argv.includes('agent') && process.argv.indexOf('agent') <= 2 && !process.env.BEACON_V8_OPTIMIZE) {
  v8.setFlagsFromString('--no-opt');
  v8.setFlagsFromString('--no-sparkplug');
  v8.setFlagsFromString('--optimize-for-size');
}
