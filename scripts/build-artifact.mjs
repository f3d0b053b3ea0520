#!/usr/bin/env node
// `npm run build:artifact`: one self-contained `beacon` executable (a Node single executable
// application) for hosts with no Node and no node_modules, such as Fedora CoreOS and Flatcar.
//
//   1. esbuild bundles the CLI (scripts/artifact-entry.ts, which calls src/cli/main.ts) and every
//      dependency into one CommonJS file (Node 20 runs
//      only CommonJS as a single executable's main script). etcd3's protos are embedded: see
//      build-artifact-protos.mjs.
//   2. `node --experimental-sea-config` turns the bundle (plus units/ and the kernel rules as assets, for
//      `beacon ignition`, and the status page's bundle from build-ui.mjs) into a blob with a V8 code cache, which shortens start-up.
//   3. postject injects the blob into a stripped copy of this machine's node binary.
//   4. gzip -9 for Ignition to fetch, and sha512 sums beside both files.
//
// Output in dist/artifact/: beacon, beacon.sha512 (the sum Ignition verifies: with
// `compression: gzip`, Ignition hashes the decompressed file), beacon.gz, beacon.gz.sha512.
// Options: --out DIR; --entry FILE (default scripts/artifact-entry.ts).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { patchConnectionPool } from './build-artifact-protos.mjs';
import { buildUi } from './build-ui.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { out: { type: 'string' }, entry: { type: 'string' } } });
const out = resolve(values.out ?? join(root, 'dist', 'artifact'));
const entry = resolve(values.entry ?? join(root, 'scripts', 'artifact-entry.ts'));
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const started = Date.now();
mkdirSync(out, { recursive: true });
const work = join(out, 'work');
rmSync(work, { recursive: true, force: true });
mkdirSync(work);

// 1. Bundle.
const bundle = join(work, 'beacon.cjs');
await build({
  entryPoints: [entry],
  outfile: bundle,
  bundle: true,
  // An --entry outside the repo (tests) still resolves packages from the repo's node_modules.
  nodePaths: [join(root, 'node_modules')],
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // ESM sources use import.meta.url; in the CommonJS bundle it becomes the executable's own URL.
  define: {
    'import.meta.url': '__beacon_import_meta_url',
  },
  banner: { js: "var __beacon_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [
    {
      name: 'etcd3-embedded-protos',
      setup(b) {
        b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => ({
          contents: patchConnectionPool(readFileSync(args.path, 'utf8')),
          loader: 'js',
        }));
      },
    },
  ],
});

// 2. SEA blob, with units/ as assets.
const assets = {};
for (const file of listFiles(join(root, 'units'))) assets[relative(root, file)] = file;
// The shipped kernel-log rules (src/config/problems.ts reads them as an asset when no file is set).
assets['config/kernel-monitor.json'] = join(root, 'config/kernel-monitor.json');
// The watcher's status page (src/watcher/status-page.ts reads the bundle as assets in the executable).
const ui = await buildUi(join(work, 'ui'));
for (const f of ['app.js', 'app.css']) assets[`ui/${f}`] = join(ui, f);
const seaConfig = join(work, 'sea-config.json');
const blob = join(work, 'beacon.blob');
writeFileSync(
  seaConfig,
  JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }, null, 2),
);
quiet(process.execPath, ['--experimental-sea-config', seaConfig]);

// 3. Inject into a stripped copy of node (strip first: stripping afterwards would drop the blob).
const exe = join(out, 'beacon');
rmSync(exe, { force: true });
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
quiet('strip', ['--strip-all', exe]);
// postject (LIEF) warns about node's many ELF notes; the result is fine, so keep it quiet unless it fails.
quiet(process.execPath, [join(root, 'node_modules', 'postject', 'dist', 'cli.js'), exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);

// 4. Compress and sum.
const binary = readFileSync(exe);
const gz = gzipSync(binary, { level: 9 });
writeFileSync(join(out, 'beacon.gz'), gz);
writeFileSync(join(out, 'beacon.sha512'), `${sha512(binary)}  beacon\n`);
writeFileSync(join(out, 'beacon.gz.sha512'), `${sha512(gz)}  beacon.gz\n`);
rmSync(work, { recursive: true, force: true });

const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
process.stderr.write(
  `build-artifact: ${relative(root, entry)} -> ${relative(process.cwd(), exe)} (${mib(binary.length)}), beacon.gz (${mib(gz.length)}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);

/** Run a build step; its output is shown only when it fails. */
function quiet(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
}

function sha512(buf) {
  return createHash('sha512').update(buf).digest('hex');
}

function listFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}
