import { Command } from 'commander';
import { assertSecureBinding } from '../server/security.js';
import { bannerLines, withStartCredentials } from './credentials.js';
import { action } from './errors.js';
import { addConfigFlags, configFrom } from './options.js';

const GROUPS = ['connection', 'worker', 'ingest', 'server'] as const;

/** `dualstream start`: publish worker, ingester and HTTP server in one process. */
export function startCommand(): Command {
  const cmd = new Command('start')
    .description(
      'run everything in one process: publish worker, stream ingester and HTTP server (Bull Board)',
    )
    .option('--demo', 'also run a small demo producer (one event fails on purpose)');
  addConfigFlags(cmd, ...GROUPS);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      // Loaded on use, so `--help` and flag errors answer without loading Kafka and BullMQ.
      const { onShutdownSignal, runParts } = await import('./runtime.js');
      const chosen = withStartCredentials(configFrom(opts, ...GROUPS));
      assertSecureBinding(chosen.config);
      const running = await runParts(chosen.config, {
        worker: true,
        ingest: true,
        server: true,
        demo: opts.demo === true,
      });
      onShutdownSignal(running);
      process.stdout.write(`dualstream is running${opts.demo ? ' (demo)' : ''}\n`);
      process.stdout.write(
        bannerLines(running.url ?? '', chosen.config, chosen.source).join('\n') + '\n',
      );
    }),
  );
  return cmd;
}
