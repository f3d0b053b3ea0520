#!/usr/bin/env node
// Bundles the status page (src/ui/main.ts with preact + htm, and src/ui/app.css) into dist/ui/app.js and
// dist/ui/app.css with esbuild: no network, no CDN, nothing fetched at run time. The watcher serves both
// (src/watcher/status-page.ts); the single-file artifact carries them as assets. Part of `npm run build`.
// Run directly, or import buildUi() (the browser tests build a fresh bundle first).
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Build the bundle into `out` (default dist/ui); resolves with the output directory. */
export async function buildUi(out = join(root, 'dist', 'ui')) {
  mkdirSync(out, { recursive: true });
  const common = {
    bundle: true,
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: root,
    nodePaths: [join(root, 'node_modules')],
  };
  await Promise.all([
    build({
      ...common,
      entryPoints: [join(root, 'src/ui/main.ts')],
      outfile: join(out, 'app.js'),
      format: 'esm',
      platform: 'browser',
      // What Debian's chromium and current browsers run; no polyfills needed.
      target: ['es2022'],
    }),
    build({ ...common, entryPoints: [join(root, 'src/ui/app.css')], outfile: join(out, 'app.css') }),
  ]);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await buildUi();
  console.log(`status page bundle: ${out}`);
}
