import { Command } from 'commander';
import { action, EXIT } from './errors.js';
import { addConfigFlags, configFrom, positiveInt } from './options.js';

const GROUPS = ['kafka'] as const;

/** `dualstream topic create`: create the events topic (what the worker does at start-up). */
export function topicCommand(): Command {
  const cmd = new Command('topic').description('the Kafka topic events are published to');
  const create = new Command('create')
    .description(
      'create the topic (KAFKA_TOPIC) unless it exists; the worker does the same at start-up',
    )
    .option(
      '--partitions <n>',
      "partitions (KAFKA_TOPIC_PARTITIONS; default: the broker's num.partitions)",
      positiveInt,
    )
    .option(
      '--replication <n>',
      "replication factor (KAFKA_TOPIC_REPLICATION; default: the broker's default.replication.factor)",
      positiveInt,
    )
    .option(
      '--min-isr <n>',
      "the topic's min.insync.replicas (KAFKA_TOPIC_MIN_ISR; default: the broker's)",
      positiveInt,
    );
  addConfigFlags(create, ...GROUPS);
  create.action(
    action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts, ...GROUPS);
      const { ensureTopic } = await import('../publisher/topic-admin.js');
      const partitions =
        (opts.partitions as number | undefined) ?? config.kafka.topicCreation.partitions;
      const replicationFactor =
        (opts.replication as number | undefined) ?? config.kafka.topicCreation.replicationFactor;
      const minInsyncReplicas =
        (opts.minIsr as number | undefined) ?? config.kafka.topicCreation.minInsyncReplicas;
      const result = await ensureTopic(config.kafka, {
        topic: config.kafka.topic,
        ...(partitions !== undefined ? { partitions } : {}),
        ...(replicationFactor !== undefined ? { replicationFactor } : {}),
        ...(minInsyncReplicas !== undefined ? { minInsyncReplicas } : {}),
      });
      const out = (s: string) => process.stdout.write(`${s}\n`);
      if (result.outcome === 'created') {
        out(
          `created topic "${result.topic}": ${result.partitions} partition(s), replication ${result.replicationFactor}`,
        );
      } else {
        out(
          `topic "${result.topic}" already exists with ${result.partitions} partition(s); left unchanged`,
        );
      }
      return EXIT.ok;
    }),
  );
  cmd.addCommand(create);
  return cmd;
}
