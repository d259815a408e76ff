import type { Command } from 'commander';
import { logRunning, processCommand } from './process-command.js';

/** `dualstream worker`: only the publish worker (scale out by running several). */
export function workerCommand(): Command {
  return processCommand({
    name: 'worker',
    description:
      'run only the publish worker (Kafka, then Redis Pub/Sub); run several to scale out',
    groups: ['connection', 'worker', 'metrics'],
    run: async (config, _opts, start) => {
      const running = await start(config, { worker: true, ingest: false, server: false });
      logRunning(running, 'publish worker running');
    },
  });
}
