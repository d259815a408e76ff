import type { Command } from 'commander';
import { logRunning, processCommand } from './process-command.js';

/** `dualstream ingest`: only the stream-ownership ingester. */
export function ingestCommand(): Command {
  return processCommand({
    name: 'ingest',
    description:
      'run only the stream ingester (claims data streams, enqueues their entries); run several for failover',
    groups: ['connection', 'ingest', 'metrics'],
    run: async (config, _opts, start) => {
      const running = await start(config, { worker: false, ingest: true, server: false });
      logRunning(running, 'stream ingester running');
    },
  });
}
