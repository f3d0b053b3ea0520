#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (run `npm run build` first).
import '../dist/src/cli/bin.js';
