#!/usr/bin/env node
// Entry of the `dualstream` command (bin/dualstream.js imports the compiled dist/cli/index.js).
import { reportError } from './errors.js';
import { createProgram } from './program.js';

try {
  await createProgram().parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
