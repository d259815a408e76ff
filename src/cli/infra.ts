import { Command, InvalidArgumentError } from 'commander';
import { action, EXIT } from './errors.js';

/** scripts/infra.mjs, typed by scripts/infra.d.mts (the one declaration of its API). */
type InfraModule = typeof import('../../scripts/infra.mjs');

// src/cli/ and dist/cli/ sit at the same depth, so the script is two levels up from either.
const INFRA_URL = new URL('../../scripts/infra.mjs', import.meta.url);

async function loadInfra(): Promise<InfraModule> {
  return (await import(INFRA_URL.href)) as InfraModule;
}

function nodeCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 9) {
    throw new InvalidArgumentError('expected a whole number from 1 to 9');
  }
  return n;
}

const NODES_HELP =
  'Kafka nodes: 1 = the development broker (KAFKA_BROKERS); 3 = a replicated KRaft cluster on ' +
  'KAFKA_CLUSTER_PORT (19092) and up (default: KAFKA_NODES or 1)';

const REDIS_CLUSTER_HELP =
  'a Redis Cluster of 3 masters and 3 replicas on REDIS_CLUSTER_PORT (17000) and up, instead of REDIS_URL';

const nodesOf = (opts: { kafkaNodes?: number; redisCluster?: boolean }) => ({
  ...(opts.kafkaNodes === undefined ? {} : { kafkaNodes: opts.kafkaNodes }),
  ...(opts.redisCluster ? { redisCluster: true } : {}),
});

/** `dualstream infra up|down|status`: local Kafka and Redis for development. */
export function infraCommand(): Command {
  const cmd = new Command('infra').description(
    'local Kafka (KRaft, from the Apache jars) and Redis for development and tests',
  );
  cmd
    .command('up')
    .description('start Kafka and Redis unless already running (safe to repeat)')
    .option('--kafka-nodes <n>', NODES_HELP, nodeCount)
    .option('--redis-cluster', REDIS_CLUSTER_HELP)
    .action(
      action(async (opts: { kafkaNodes?: number; redisCluster?: boolean }) => {
        await (await loadInfra()).infraUp(nodesOf(opts));
      }),
    );
  cmd
    .command('down')
    .description('stop what `infra up` started (services it did not start are left alone)')
    .option('--clean', 'also delete the Kafka data directory')
    .option('--kafka-nodes <n>', NODES_HELP, nodeCount)
    .option(
      '--redis-cluster',
      `${REDIS_CLUSTER_HELP}; with either flag only the cluster(s) named stop`,
    )
    .action(
      action(async (opts: { clean?: boolean; kafkaNodes?: number; redisCluster?: boolean }) => {
        await (await loadInfra()).infraDown({ ...nodesOf(opts), clean: opts.clean === true });
      }),
    );
  cmd
    .command('status')
    .description('show what answers on the Kafka and Redis ports; exit 1 when either is down')
    .option('--kafka-nodes <n>', NODES_HELP, nodeCount)
    .action(
      action(async (opts: { kafkaNodes?: number }) => {
        const s = await (await loadInfra()).infraStatus(nodesOf(opts));
        return s.kafka.state === 'kafka' && s.redis.state === 'redis' ? EXIT.ok : EXIT.failure;
      }),
    );
  return cmd;
}
