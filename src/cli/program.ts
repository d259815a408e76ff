import { Command } from 'commander';
import { boardCommand } from './board.js';
import { doctorCommand } from './doctor.js';
import { enqueueCommand } from './enqueue.js';
import { infraCommand } from './infra.js';
import { ingestCommand } from './ingest.js';
import { replayCommand } from './replay.js';
import { retryFailedCommand } from './retry-failed.js';
import { startCommand } from './start.js';
import { topicCommand } from './topic.js';
import { workerCommand } from './worker.js';

/** Build the `dualstream` command with all subcommands. */
export function createProgram(): Command {
  const program = new Command('dualstream')
    .description(
      'BullMQ jobs published to Kafka (durable) and Redis Pub/Sub (instant), with Bull Board. Flags override environment variables.',
    )
    .version('0.1.0')
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
    infraCommand(),
  ]) {
    cmd.showHelpAfterError('(run with --help for usage)');
    program.addCommand(cmd);
  }
  return program;
}
