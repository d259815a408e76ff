import type { DualstreamConfig } from '../config/index.js';
import type { TopicInspection } from '../publisher/topic-admin.js';
import type { CheckLine } from './check-line.js';

/**
 * `doctor`'s verdict on the events topic. A missing topic is a problem only when nothing will
 * create it: the worker creates it at start-up (unless KAFKA_CREATE_TOPIC=0), and a broker with
 * `auto.create.topics.enable` creates it on the first write. Fixes name this package's commands.
 */
export function topicCheck(
  kafka: Pick<DualstreamConfig['kafka'], 'topic' | 'topicCreation'>,
  seen: TopicInspection,
): CheckLine {
  const { topic, topicCreation } = kafka;
  if (seen.exists) return existingTopicCheck(topic, seen);
  const size = [
    `${topicCreation.partitions ?? "the broker's default number of"} partition(s)`,
    topicCreation.replicationFactor !== undefined
      ? `replication ${topicCreation.replicationFactor}`
      : '',
  ]
    .filter(Boolean)
    .join(', ');
  const create = `dualstream topic create --topic ${topic}`;
  if (topicCreation.enabled) {
    return {
      status: 'OK',
      name: 'topic',
      detail: `"${topic}" does not exist yet: the worker creates it at start-up with ${size} (KAFKA_TOPIC_PARTITIONS, KAFKA_TOPIC_REPLICATION)`,
    };
  }
  if (seen.brokerAutoCreates === true) {
    return {
      status: 'WARN',
      name: 'topic',
      detail: `"${topic}" does not exist; the broker creates it on the first write, with its own defaults (auto.create.topics.enable=true)`,
      fix: `${create} --partitions <n> to choose its partitions`,
    };
  }
  return {
    status: 'FAIL',
    name: 'topic',
    detail: `"${topic}" does not exist, KAFKA_CREATE_TOPIC=0 and the broker ${seen.brokerAutoCreates === false ? 'does not auto-create topics' : 'may not auto-create it (its setting could not be read)'}`,
    fix: `${create} (or unset KAFKA_CREATE_TOPIC so that the worker creates it), or set KAFKA_TOPIC`,
  };
}

/**
 * An existing topic: every partition needs a leader and its full ISR, and a replicated topic
 * (3 or more replicas) needs `min.insync.replicas` of at least 2, or acks=all would accept a
 * record that only the leader holds, and a leader kill could lose it.
 */
function existingTopicCheck(topic: string, seen: TopicInspection): CheckLine {
  const shape = `"${topic}": ${seen.partitions} partition(s), replication ${seen.replicationFactor}${
    seen.minInsyncReplicas !== undefined ? `, min.insync.replicas ${seen.minInsyncReplicas}` : ''
  }`;
  if (seen.leaderless > 0) {
    return {
      status: 'WARN',
      name: 'topic',
      detail: `${shape}; ${seen.leaderless} without a leader`,
      fix: 'check the brokers hosting those partitions',
    };
  }
  if (seen.underReplicated > 0) {
    return {
      status: 'WARN',
      name: 'topic',
      detail: `${shape}; ${seen.underReplicated} under-replicated (fewer in-sync replicas than replicas)`,
      fix: 'a broker is down or lagging: check every broker hosting the topic',
    };
  }
  if (
    seen.replicationFactor >= 3 &&
    seen.minInsyncReplicas !== undefined &&
    seen.minInsyncReplicas < 2
  ) {
    return {
      status: 'WARN',
      name: 'topic',
      detail: `${shape}; with min.insync.replicas 1 an acknowledged record may exist on the leader only`,
      fix: `kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config min.insync.replicas=2`,
    };
  }
  return { status: 'OK', name: 'topic', detail: shape };
}
