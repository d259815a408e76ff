import { Command } from 'commander';
import { action } from './errors.js';
import { addConfigFlags, configFrom } from './options.js';

const GROUPS = ['connection', 'ingest', 'metrics'] as const;

/** `dualstream ingest`: only the stream-ownership ingester. */
export function ingestCommand(): Command {
  const cmd = new Command('ingest').description(
    'run only the stream ingester (claims data streams, enqueues their entries); run several for failover',
  );
  addConfigFlags(cmd, ...GROUPS);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      // Loaded on use, so `--help` and flag errors answer without loading Kafka and BullMQ.
      const { logRunning, onShutdownSignal, runParts } = await import('./runtime.js');
      const running = await runParts(configFrom(opts, ...GROUPS), {
        worker: false,
        ingest: true,
        server: false,
      });
      onShutdownSignal(running);
      logRunning(running, 'stream ingester running');
    }),
  );
  return cmd;
}
