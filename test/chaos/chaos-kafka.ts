import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosLog } from './log.js';
import { PrivateKafka } from './private-kafka.js';
import { freeClusterPorts, PrivateKafkaCluster } from './private-kafka-cluster.js';
import { freePort } from './redis-server.js';
import type { RssTracker } from './rss.js';

/**
 * The private Kafka of a chaos run, one broker or a 3-node cluster behind one shape: the
 * scenario's "kill -9 Kafka" fault kills every node (a whole-cluster outage), and only a cluster
 * offers the partition-leader kill.
 */
export interface ChaosKafka {
  readonly label: string;
  readonly brokers: string[];
  /** Comma-separated brokers, as KAFKA_BROKERS takes them. */
  readonly address: string;
  readonly runDir: string;
  /** Partitions of the run's topic (a cluster gets more, so that leaders are spread). */
  readonly partitions: number;
  /** Set only for a cluster. */
  readonly cluster?: PrivateKafkaCluster;
  start(): Promise<number>;
  /** kill -9 every node. */
  kill(): Promise<string>;
  /** Start every node again on its data dir; resolves with the time until all served. */
  restart(): Promise<number>;
  destroy(keep: boolean): Promise<void>;
  /** Follow every node's RSS. */
  track(rss: RssTracker): void;
}

export async function createChaosKafka(
  cluster: boolean,
  port: number,
  log: ChaosLog,
): Promise<ChaosKafka> {
  const info = (line: string) => log.info(line);
  if (!cluster) {
    const k = new PrivateKafka(port || (await freePort(true)), info);
    return {
      label: 'Kafka broker',
      brokers: [k.address],
      address: k.address,
      runDir: k.runDir,
      partitions: 3,
      start: () => k.start(),
      kill: async () => `pid ${await k.kill()}`,
      restart: () => k.restart(),
      destroy: (keep) => k.destroy(keep),
      track: (rss) => rss.track('kafka', k.pid),
    };
  }
  const c = new PrivateKafkaCluster(port || (await freeClusterPorts(3)), info, 3);
  return {
    label: 'Kafka cluster (3 nodes)',
    brokers: c.brokers,
    address: c.address,
    runDir: c.runDir,
    partitions: 6,
    cluster: c,
    start: () => c.start(),
    kill: async () => {
      const pids = await Promise.all([1, 2, 3].map((n) => c.kill(n)));
      return `pids ${pids.join(', ')}`;
    },
    restart: () => c.start(),
    destroy: (keep) => c.destroy(keep),
    track: (rss) => {
      for (const [node, pid] of c.pids) rss.track(`kafka-${node}`, pid);
    },
  };
}

/** What the leader-kill fault did, for the report. */
export interface LeaderKill {
  node: number;
  pid: number;
  ledPartitions: number;
  /** From the kill until the restarted node was back in every partition's ISR. */
  fullyReplicatedAt: number;
}

/**
 * kill -9 the node that leads the most partitions of `topic`, keep it down `downS` seconds (the
 * other two still meet min.insync.replicas 2), restart it and wait until it is back in every
 * ISR. `afterKill` runs right after the kill and then every 250 ms until the node is back in
 * every ISR (the scenario adds the jobs it finds active to the bound for duplicates).
 */
export async function killBusiestLeader(
  cluster: PrivateKafkaCluster,
  topic: string,
  downS: number,
  log: ChaosLog,
  afterKill: () => Promise<void>,
): Promise<LeaderKill> {
  const leaders = await cluster.leaders(topic);
  const victim = leaders[0]!;
  log.info(
    `partition leaders per node: ${leaders.map((l) => `${l.node}:${l.partitions}`).join(' ')}`,
  );
  const pid = await cluster.kill(victim.node);
  await afterKill();
  // Leadership moves twice (away at the kill, back when the preferred leader returns), and a
  // send caught by either can end with an unknown outcome: keep listing active jobs until the end.
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await afterKill().catch(() => undefined);
      await sleep(250);
    }
  })();
  try {
    return await recover(cluster, topic, downS, log, victim, pid);
  } finally {
    sampling = false;
    await sampler;
  }
}

async function recover(
  cluster: PrivateKafkaCluster,
  topic: string,
  downS: number,
  log: ChaosLog,
  victim: { node: number; partitions: number },
  pid: number,
): Promise<LeaderKill> {
  await sleep(downS * 1000);
  log.recover(`restarting node ${victim.node} after ${downS} s down`);
  const ms = await cluster.restart(victim.node);
  log.info(
    `node ${victim.node} serving again in ${(ms / 1000).toFixed(1)} s; waiting for the ISRs`,
  );
  const deadline = Date.now() + 120_000;
  while ((await cluster.underReplicated(topic)) > 0) {
    if (Date.now() > deadline) throw new Error(`node ${victim.node} did not rejoin every ISR`);
    await sleep(250);
  }
  return {
    node: victim.node,
    pid,
    ledPartitions: victim.partitions,
    fullyReplicatedAt: Date.now(),
  };
}
