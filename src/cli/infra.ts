import { Command } from 'commander';
import { action, EXIT } from './errors.js';

/** scripts/infra.mjs, typed by scripts/infra.d.mts (the one declaration of its API). */
type InfraModule = typeof import('../../scripts/infra.mjs');

// src/cli/ and dist/cli/ sit at the same depth, so the script is two levels up from either.
const INFRA_URL = new URL('../../scripts/infra.mjs', import.meta.url);

async function loadInfra(): Promise<InfraModule> {
  return (await import(INFRA_URL.href)) as InfraModule;
}

/** `dualstream infra up|down|status`: local Kafka and Redis for development. */
export function infraCommand(): Command {
  const cmd = new Command('infra').description(
    'local Kafka (KRaft, from the Apache jars) and Redis for development and tests',
  );
  cmd
    .command('up')
    .description('start Kafka and Redis unless already running (safe to repeat)')
    .action(
      action(async () => {
        await (await loadInfra()).infraUp();
      }),
    );
  cmd
    .command('down')
    .description('stop what `infra up` started (services it did not start are left alone)')
    .option('--clean', 'also delete the Kafka data directory')
    .action(
      action(async (opts: { clean?: boolean }) => {
        await (await loadInfra()).infraDown({ clean: opts.clean === true });
      }),
    );
  cmd
    .command('status')
    .description('show what answers on the Kafka and Redis ports; exit 1 when either is down')
    .action(
      action(async () => {
        const s = await (await loadInfra()).infraStatus();
        return s.kafka.state === 'kafka' && s.redis.state === 'redis' ? EXIT.ok : EXIT.failure;
      }),
    );
  return cmd;
}
