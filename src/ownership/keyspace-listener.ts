import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { safeEmitError } from '../async.js';
import type { Logger } from '../logger.js';
import { expiredChannel } from './keys.js';

/**
 * Add the flags needed for expired-key events (`E` keyevent channel, `x` expired; `A` already
 * includes `x`) to an existing `notify-keyspace-events` value, keeping every flag already set.
 */
export function mergeKeyspaceFlags(current: string): string {
  let flags = current;
  if (!flags.includes('E')) flags += 'E';
  if (!flags.includes('x') && !flags.includes('A')) flags += 'x';
  return flags;
}

/** Outcome of {@link enableExpiredEvents}. */
export type KeyspaceSetup = 'already-enabled' | 'enabled' | 'refused';

const warnedRefusal = new Set<string>();

/**
 * Make Redis publish expired-key events by ADDING `Ex` to `notify-keyspace-events` (CONFIG GET,
 * merge, CONFIG SET), never overwriting what other applications configured. Where CONFIG is
 * refused (managed Redis, ACL), warns once per process and Redis address and returns `refused`:
 * ownership then runs on the sweep alone (or on flags the provider set).
 */
export async function enableExpiredEvents(redis: Redis, logger: Logger): Promise<KeyspaceSetup> {
  try {
    const reply = (await redis.call('CONFIG', ['GET', 'notify-keyspace-events'])) as string[];
    const current = reply[1] ?? '';
    const merged = mergeKeyspaceFlags(current);
    if (merged === current) return 'already-enabled';
    await redis.call('CONFIG', ['SET', 'notify-keyspace-events', merged]);
    logger.info(
      { from: current, to: merged },
      'added expired-key events to notify-keyspace-events',
    );
    return 'enabled';
  } catch (err) {
    const where = `${redis.options.host ?? ''}:${redis.options.port ?? ''}`;
    if (!warnedRefusal.has(where)) {
      warnedRefusal.add(where);
      logger.warn(
        { err, redis: where },
        'cannot enable keyspace notifications (CONFIG refused); set notify-keyspace-events to include "Ex" on the server, or rely on the sweep alone (failover then takes up to one sweep interval longer)',
      );
    }
    return 'refused';
  }
}

/** Events of {@link KeyspaceListener}. */
export interface KeyspaceListenerEvents {
  /** A key expired in the watched database. */
  expired: [key: string];
  error: [err: Error];
}

/**
 * Subscribes one dedicated connection to `__keyevent@<db>__:expired`. Keyspace events are
 * fire-and-forget: whatever expires while this connection is down is never delivered, which is
 * why the sweep exists. ioredis re-subscribes after a reconnect by itself.
 */
export class KeyspaceListener extends EventEmitter<KeyspaceListenerEvents> {
  private readonly channel: string;

  constructor(
    private readonly subscriber: Redis,
    db: number,
  ) {
    super();
    this.channel = expiredChannel(db);
    this.onMessage = this.onMessage.bind(this);
  }

  /** Subscribe. Resolves once Redis confirmed the subscription. */
  async start(): Promise<void> {
    this.subscriber.on('message', this.onMessage);
    await this.subscriber.subscribe(this.channel);
  }

  /** Unsubscribe (the connection is closed by its owner). */
  async stop(): Promise<void> {
    this.subscriber.off('message', this.onMessage);
    try {
      await this.subscriber.unsubscribe(this.channel);
    } catch {
      // The connection may already be gone; nothing is left to undo.
    }
  }

  private onMessage(channel: string, key: string): void {
    if (channel !== this.channel) return;
    try {
      this.emit('expired', key);
    } catch (err) {
      safeEmitError(this, err);
    }
  }
}
