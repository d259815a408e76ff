#!/usr/bin/env node
// Entry of the `dualstream` command (bin/dualstream.js imports the compiled dist/cli/index.js).
import { reportError } from './errors.js';
import { commanderExitCode, createProgram } from './program.js';

try {
  await createProgram().parseAsync(process.argv);
} catch (err) {
  // Commander has printed its own message for a usage error; anything else is reported here.
  process.exitCode = commanderExitCode(err) ?? reportError(err);
}
