import { Redis } from 'ioredis';
import { removeEdgeState } from '../../src/realtime/keys.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const tracked = new Set<string>();

/**
 * Note a channel prefix whose real-time edge history a test creates (on the shared Redis, under
 * the default BullMQ prefix); the file's last `afterAll` deletes it. Returns the prefix.
 */
export function trackEdgePrefix(channelPrefix: string): string {
  tracked.add(channelPrefix);
  return channelPrefix;
}

/** Delete the retained history of every tracked channel prefix (see test/setup). */
export async function removeTrackedEdgeState(): Promise<void> {
  if (tracked.size === 0) return;
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    for (const prefix of tracked) await removeEdgeState(redis, 'bull', prefix);
    tracked.clear();
  } finally {
    redis.disconnect();
  }
}
