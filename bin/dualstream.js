#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `prepare` on install).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error(
    'dualstream: dist/ is missing. Run `npm run build` (npm install does it via `prepare`).',
  );
  process.exit(1);
}
await import(entry.href);
