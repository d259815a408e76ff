import { Command } from 'commander';
import { action } from './errors.js';
import { addConfigFlags, configFrom } from './options.js';

const GROUPS = ['connection', 'worker', 'metrics'] as const;

/** `dualstream worker`: only the publish worker (scale out by running several). */
export function workerCommand(): Command {
  const cmd = new Command('worker').description(
    'run only the publish worker (Kafka, then Redis Pub/Sub); run several to scale out',
  );
  addConfigFlags(cmd, ...GROUPS);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      // Loaded on use, so `--help` and flag errors answer without loading Kafka and BullMQ.
      const { logRunning, onShutdownSignal, runParts } = await import('./runtime.js');
      const running = await runParts(configFrom(opts, ...GROUPS), {
        worker: true,
        ingest: false,
        server: false,
      });
      onShutdownSignal(running);
      logRunning(running, 'publish worker running');
    }),
  );
  return cmd;
}
