import type { Admin } from 'kafkajs';
import type { DualstreamConfig } from '../config/index.js';
import { createKafkaClient } from '../publisher/kafka-client.js';

/** A Kafka reachability check backed by one admin client, for processes without a publisher. */
export interface KafkaPing {
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Create a Kafka reachability check: connects an admin client lazily and asks for the cluster
 * metadata. Used by `/readyz` in the `board` command, where no publisher runs.
 */
export function createKafkaPing(config: Pick<DualstreamConfig, 'kafka'>): KafkaPing {
  const kafka = createKafkaClient(config.kafka, {
    clientIdSuffix: 'ping',
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  });
  let admin: Admin | undefined;
  return {
    async ping() {
      try {
        if (!admin) {
          admin = kafka.admin();
          await admin.connect();
        }
        const cluster = await admin.describeCluster();
        return cluster.brokers.length > 0;
      } catch {
        // Drop the client so the next probe reconnects from scratch.
        const a = admin;
        admin = undefined;
        await a?.disconnect().catch(() => undefined);
        return false;
      }
    },
    async close() {
      await admin?.disconnect().catch(() => undefined);
      admin = undefined;
    },
  };
}
