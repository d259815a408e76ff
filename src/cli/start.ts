import type { Command } from 'commander';
import { assertSecureBinding } from '../server/security.js';
import { bannerLines, withStartCredentials } from './credentials.js';
import { processCommand } from './process-command.js';

/** `dualstream start`: publish worker, ingester and HTTP server in one process. */
export function startCommand(): Command {
  return processCommand({
    name: 'start',
    description:
      'run everything in one process: publish worker, stream ingester and HTTP server (Bull Board)',
    groups: ['connection', 'worker', 'ingest', 'server'],
    configure: (cmd) =>
      void cmd.option('--demo', 'also run a small demo producer (one event fails on purpose)'),
    run: async (config, opts, start) => {
      const chosen = withStartCredentials(config);
      assertSecureBinding(chosen.config);
      const demo = opts.demo === true;
      const running = await start(chosen.config, {
        worker: true,
        ingest: true,
        server: true,
        demo,
      });
      process.stdout.write(`dualstream is running${demo ? ' (demo)' : ''}\n`);
      process.stdout.write(
        bannerLines(running.url ?? '', chosen.config, chosen.source).join('\n') + '\n',
      );
    },
  });
}
