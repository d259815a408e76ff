import { Redis } from 'ioredis';

/**
 * Subscribes with PSUBSCRIBE `<channelPrefix>:*` on the Pub/Sub Redis and records every
 * notification's event id and arrival time. ioredis reconnects and re-subscribes by itself after
 * the Pub/Sub Redis comes back; connection errors while it is down are counted, not thrown.
 */
export class NotificationWatcher {
  /** Event id to first arrival time. */
  readonly received = new Map<string, number>();
  messages = 0;
  malformed = 0;
  /** Notifications whose body carried more than the id-only fields (a payload leak). */
  withPayload = 0;
  connectionErrors = 0;
  private readonly client: Redis;

  constructor(
    url: string,
    private readonly pattern: string,
  ) {
    this.client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      retryStrategy: () => 200,
      connectionName: 'chaos-notification-watcher',
    });
    this.client.on('error', () => {
      this.connectionErrors += 1;
    });
    this.client.on('pmessage', (_pattern: string, _channel: string, message: string) => {
      this.messages += 1;
      try {
        const n = JSON.parse(message) as Record<string, unknown>;
        if (typeof n.id !== 'string') {
          this.malformed += 1;
          return;
        }
        if ('payload' in n) this.withPayload += 1;
        if (!this.received.has(n.id)) this.received.set(n.id, Date.now());
      } catch {
        this.malformed += 1;
      }
    });
  }

  async start(): Promise<void> {
    await this.client.connect();
    await this.client.psubscribe(this.pattern);
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
