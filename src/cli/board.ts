import type { Command } from 'commander';
import { assertSecureBinding } from '../server/security.js';
import { bannerLines, withStartCredentials } from './credentials.js';
import { processCommand } from './process-command.js';

/** `dualstream board`: only the HTTP server (Bull Board, ingest API, health, metrics). */
export function boardCommand(): Command {
  return processCommand({
    name: 'board',
    description:
      'run only the HTTP server: Bull Board, POST /v1/events, /healthz, /readyz, /metrics',
    groups: ['connection', 'ingest', 'server'],
    run: async (config, _opts, start) => {
      const chosen = withStartCredentials(config);
      assertSecureBinding(chosen.config);
      const running = await start(chosen.config, { worker: false, ingest: false, server: true });
      process.stdout.write(
        bannerLines(running.url ?? '', chosen.config, chosen.source).join('\n') + '\n',
      );
    },
  });
}
