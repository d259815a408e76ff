import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { DualstreamConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import { createKafkaClient } from './kafka-client.js';

// kafkajs is CommonJS: its enums are reachable through the default export only.
const { ConfigResourceTypes } = kafkajs;

/** What {@link ensureTopic} found or did. */
export type EnsureTopicResult =
  | { outcome: 'exists'; topic: string; partitions: number }
  | { outcome: 'created'; topic: string; partitions: number; replicationFactor: number };

/** Partitions and replication a new topic gets: configured, else the broker's defaults. */
export interface TopicSpec {
  topic: string;
  partitions?: number;
  replicationFactor?: number;
  /** `min.insync.replicas` of the new topic; unset takes the broker's default. */
  minInsyncReplicas?: number;
}

/** How a topic looks to `doctor`, and whether the broker would create it on first write. */
export interface TopicInspection {
  exists: boolean;
  partitions: number;
  leaderless: number;
  /** Replicas per partition (the largest, should partitions differ); 0 when it does not exist. */
  replicationFactor: number;
  /** Partitions whose in-sync replicas are fewer than their replicas. */
  underReplicated: number;
  /** The topic's `min.insync.replicas`; undefined when it could not be read. */
  minInsyncReplicas?: number;
  /** The broker's `auto.create.topics.enable`; undefined when it could not be read. */
  brokerAutoCreates?: boolean;
}

type KafkaSettings = Pick<DualstreamConfig['kafka'], 'brokers' | 'clientId' | 'ssl' | 'sasl'>;

function adminFor(kafka: KafkaSettings, suffix: string) {
  return createKafkaClient(kafka, {
    clientIdSuffix: suffix,
    connectionTimeout: 3000,
    // Bounded: start-up and the CLI must not hang on a broker that is down.
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
  }).admin();
}

/**
 * Create `spec.topic` when it does not exist, waiting for its partition leaders; an existing
 * topic is left as it is (its partitions are reported, never changed). Safe to run from many
 * processes at once: a concurrent creation counts as "exists".
 */
export async function ensureTopic(
  kafka: KafkaSettings,
  spec: TopicSpec,
): Promise<EnsureTopicResult> {
  const admin = adminFor(kafka, 'topic-admin');
  await admin.connect();
  try {
    const partitionsOf = async () => {
      const meta = await admin.fetchTopicMetadata({ topics: [spec.topic] });
      return meta.topics[0]?.partitions ?? [];
    };
    if ((await admin.listTopics()).includes(spec.topic)) {
      return { outcome: 'exists', topic: spec.topic, partitions: (await partitionsOf()).length };
    }
    // -1 asks the broker for its defaults (Kafka 2.4+). kafkajs' own wait for leaders gives up
    // on UNKNOWN_TOPIC_OR_PARTITION, which a cluster answers until every broker has the new
    // topic's metadata: wait here instead.
    const created = await admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic: spec.topic,
          numPartitions: spec.partitions ?? -1,
          replicationFactor: spec.replicationFactor ?? -1,
          ...(spec.minInsyncReplicas !== undefined
            ? {
                configEntries: [
                  { name: 'min.insync.replicas', value: String(spec.minInsyncReplicas) },
                ],
              }
            : {}),
        },
      ],
    });
    const partitions = await untilLeaders(partitionsOf, spec.topic);
    if (!created) return { outcome: 'exists', topic: spec.topic, partitions: partitions.length };
    return {
      outcome: 'created',
      topic: spec.topic,
      partitions: partitions.length,
      replicationFactor: partitions[0]?.replicas.length ?? 0,
    };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Metadata of a new topic once every partition has a leader (bounded: 30 s). */
async function untilLeaders<T extends { leader: number }>(
  partitionsOf: () => Promise<T[]>,
  topic: string,
): Promise<T[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let last: string;
    try {
      const partitions = await partitionsOf();
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return partitions;
      last = `${partitions.filter((p) => p.leader < 0).length} of ${partitions.length} partition(s) without a leader`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`Topic "${topic}" was created but has no leaders after 30 s: ${last}`);
    }
    await sleep(200);
  }
}

/**
 * The worker's start-up step: create the configured topic when it is missing, unless
 * `KAFKA_CREATE_TOPIC=0`. Never stops start-up: with Kafka down or creation not allowed (ACLs)
 * it logs why, and the publish path reports its own errors.
 */
export async function ensureTopicAtStartup(
  config: DualstreamConfig,
  logger: Logger,
): Promise<EnsureTopicResult | undefined> {
  const creation = config.kafka.topicCreation;
  if (!creation.enabled) return undefined;
  try {
    const result = await ensureTopic(config.kafka, {
      topic: config.kafka.topic,
      ...(creation.partitions !== undefined ? { partitions: creation.partitions } : {}),
      ...(creation.replicationFactor !== undefined
        ? { replicationFactor: creation.replicationFactor }
        : {}),
      ...(creation.minInsyncReplicas !== undefined
        ? { minInsyncReplicas: creation.minInsyncReplicas }
        : {}),
    });
    if (result.outcome === 'created') {
      logger.info(
        result,
        `created Kafka topic "${result.topic}" (${result.partitions} partitions, replication ${result.replicationFactor})`,
      );
    }
    return result;
  } catch (err) {
    logger.warn(
      { topic: config.kafka.topic, reason: (err as Error).message },
      `could not check or create Kafka topic "${config.kafka.topic}": ${(err as Error).message}; starting anyway (set KAFKA_CREATE_TOPIC=0 to skip this step)`,
    );
    return undefined;
  }
}

/**
 * Look at a topic for `doctor`, without changing anything. With a broker of a cluster down, an
 * admin client may keep asking that broker; up to three fresh clients (each starts from a random
 * seed broker) are tried before the error is reported.
 */
export async function inspectTopic(kafka: KafkaSettings, topic: string): Promise<TopicInspection> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await inspectOnce(kafka, topic);
    } catch (err) {
      if (attempt >= 3) throw err;
      await sleep(200);
    }
  }
}

async function inspectOnce(kafka: KafkaSettings, topic: string): Promise<TopicInspection> {
  const admin = adminFor(kafka, 'doctor');
  await admin.connect();
  try {
    const exists = (await admin.listTopics()).includes(topic);
    let partitions = 0;
    let leaderless = 0;
    let replicationFactor = 0;
    let underReplicated = 0;
    let minInsyncReplicas: number | undefined;
    if (exists) {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const list = meta.topics[0]?.partitions ?? [];
      partitions = list.length;
      leaderless = list.filter((p) => p.leader < 0).length;
      replicationFactor = Math.max(0, ...list.map((p) => p.replicas.length));
      underReplicated = list.filter((p) => p.isr.length < p.replicas.length).length;
      try {
        const res = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [
            { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] },
          ],
        });
        const v = res.resources[0]?.configEntries.find(
          (c) => c.configName === 'min.insync.replicas',
        )?.configValue;
        if (v !== undefined && /^\d+$/.test(v)) minInsyncReplicas = Number(v);
      } catch {
        // Not allowed to read topic configs (ACLs): say nothing about min.insync.replicas.
      }
    }
    let brokerAutoCreates: boolean | undefined;
    try {
      const cluster = await admin.describeCluster();
      const brokerId = cluster.controller ?? cluster.brokers[0]?.nodeId;
      if (brokerId !== undefined && brokerId !== null) {
        const res = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [
            {
              type: ConfigResourceTypes.BROKER,
              name: String(brokerId),
              configNames: ['auto.create.topics.enable'],
            },
          ],
        });
        const v = res.resources[0]?.configEntries.find(
          (c) => c.configName === 'auto.create.topics.enable',
        )?.configValue;
        if (v === 'true' || v === 'false') brokerAutoCreates = v === 'true';
      }
    } catch {
      // Not allowed to read broker configs (ACLs): say nothing about auto-creation.
    }
    return {
      exists,
      partitions,
      leaderless,
      replicationFactor,
      underReplicated,
      ...(minInsyncReplicas !== undefined ? { minInsyncReplicas } : {}),
      ...(brokerAutoCreates !== undefined ? { brokerAutoCreates } : {}),
    };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
