import type { LogEntry } from 'kafkajs';
import type { Logger } from '../logger.js';

const CONNECTION_TROUBLE =
  /Connection (error|timeout)|Closed connection|Failed to connect|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|network cut/i;

/** Whether a message or error names a connection problem (broker down, network cut). */
export function isConnectionTrouble(text: string): boolean {
  return CONNECTION_TROUBLE.test(text);
}

/** Whether a kafkajs log entry is connection noise: one of many lines per failed connection. */
export function isConnectionNoise(entry: LogEntry): boolean {
  const { message, error } = entry.log as { message: string; error?: unknown };
  return isConnectionTrouble(`${message} ${typeof error === 'string' ? error : ''}`);
}

/**
 * Says "Kafka unreachable" once per outage, at its first sign (the first refused or timed-out
 * connection, long before a send exhausts its retries), and "reachable again" when a request
 * succeeds. kafkajs logs a dozen error lines per failed send while a broker is down; those are
 * demoted to debug and this is the line an operator reads.
 */
export class KafkaOutageLog {
  private downSince: number | undefined;

  constructor(
    private readonly logger: Logger | undefined,
    private readonly brokers: string[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether an outage is in progress. */
  get down(): boolean {
    return this.downSince !== undefined;
  }

  /** A connection to Kafka failed. Logs a warning when this starts an outage. */
  unreachable(reason: string): void {
    if (this.downSince !== undefined) return;
    this.downSince = this.now();
    this.logger?.warn(
      { brokers: this.brokers, reason },
      `Kafka unreachable at ${this.brokers.join(',')}: ${reason}. Jobs wait and retry; the worker cools down after repeated failures and resumes by itself`,
    );
  }

  /** A request to Kafka succeeded. Logs the end of an outage. */
  reachable(): void {
    if (this.downSince === undefined) return;
    const downMs = this.now() - this.downSince;
    this.downSince = undefined;
    this.logger?.info(
      { brokers: this.brokers, downMs },
      `Kafka reachable again after ${(downMs / 1000).toFixed(1)} s`,
    );
  }
}
