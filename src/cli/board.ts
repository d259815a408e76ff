import { Command } from 'commander';
import { assertSecureBinding } from '../server/security.js';
import { bannerLines, withStartCredentials } from './credentials.js';
import { action } from './errors.js';
import { addConfigFlags, configFrom } from './options.js';

const GROUPS = ['connection', 'ingest', 'server'] as const;

/** `dualstream board`: only the HTTP server (Bull Board, ingest API, health, metrics). */
export function boardCommand(): Command {
  const cmd = new Command('board').description(
    'run only the HTTP server: Bull Board, POST /v1/events, /healthz, /readyz, /metrics',
  );
  addConfigFlags(cmd, ...GROUPS);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      // Loaded on use, so `--help` and flag errors answer without loading Kafka and BullMQ.
      const { onShutdownSignal, runParts } = await import('./runtime.js');
      const chosen = withStartCredentials(configFrom(opts, ...GROUPS));
      assertSecureBinding(chosen.config);
      const running = await runParts(chosen.config, { worker: false, ingest: false, server: true });
      onShutdownSignal(running);
      process.stdout.write(
        bannerLines(running.url ?? '', chosen.config, chosen.source).join('\n') + '\n',
      );
    }),
  );
  return cmd;
}
