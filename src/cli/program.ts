import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { boardCommand } from './board.js';
import { doctorCommand } from './doctor.js';
import { enqueueCommand } from './enqueue.js';
import { EXIT } from './errors.js';
import { infraCommand } from './infra.js';
import { ingestCommand } from './ingest.js';
import { replayCommand } from './replay.js';
import { retryFailedCommand } from './retry-failed.js';
import { startCommand } from './start.js';
import { tokenCommand } from './token.js';
import { topicCommand } from './topic.js';
import { workerCommand } from './worker.js';

/** The package's version, from its package.json (src/cli and dist/cli are two levels down). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Build the `dualstream` command with all subcommands. */
export function createProgram(): Command {
  const program = new Command('dualstream')
    .description(
      'BullMQ jobs published to Kafka (durable) and Redis Pub/Sub (instant), with Bull Board. Flags override environment variables.',
    )
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);
  for (const cmd of [
    startCommand(),
    workerCommand(),
    ingestCommand(),
    boardCommand(),
    enqueueCommand(),
    retryFailedCommand(),
    replayCommand(),
    doctorCommand(),
    topicCommand(),
    tokenCommand(),
    infraCommand(),
  ]) {
    cmd.showHelpAfterError('(run with --help for usage)');
    program.addCommand(cmd);
  }
  throwUsageErrors(program);
  return program;
}

/**
 * Make commander throw its errors (unknown option, bad flag value, missing argument) instead of
 * exiting with 1, so that the entry point exits with {@link EXIT.usage} (2) for every usage error,
 * as for a bad configuration. Help and version still exit 0.
 */
function throwUsageErrors(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) throwUsageErrors(sub);
}

/** The exit code for an error commander threw (it has printed the message already). */
export function commanderExitCode(err: unknown): number | undefined {
  if (!(err instanceof CommanderError)) return undefined;
  return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
}
