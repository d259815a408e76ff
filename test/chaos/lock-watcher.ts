import type { Redis } from 'ioredis';
import { lockKey } from '../../src/ownership/keys.js';
import { asPipelineReply } from '../../src/redis.js';

/** One observed change of a stream's lock holder (`undefined`: no lock). */
export interface OwnerChange {
  at: number;
  owner: string | undefined;
}

/** A stream's move from one owner to another after a fault. */
export interface Failover {
  stream: string;
  from: string;
  to: string | undefined;
  /** From the fault to the first sight of the new owner's lock, ms (undefined: never moved). */
  ms: number | undefined;
}

/**
 * Polls the lock key of every data stream (every `intervalMs`) and keeps the history of holders.
 * The lock value is `<fence>|<owner id>`; the owner id names the process incarnation, which lets
 * the suite tell which streams a killed or stopped ingester held and how long they took to move.
 */
export class LockWatcher {
  readonly history = new Map<string, OwnerChange[]>();
  polls = 0;
  errors = 0;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly redis: Redis,
    private readonly service: string,
    private readonly streams: string[],
    private readonly intervalMs = 100,
    /** The queue Redis is a Redis Cluster: the cluster key layout, one GET per lock. */
    private readonly cluster = false,
  ) {
    for (const s of streams) this.history.set(s, []);
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      // On a cluster the locks live in different slots, which one pipeline cannot span.
      const results: Array<[Error | null, unknown]> = this.cluster
        ? await Promise.all(
            this.streams.map((s) =>
              asPipelineReply(this.redis.get(lockKey(this.service, s, true))),
            ),
          )
        : ((await this.streams
            .reduce((p, s) => p.get(lockKey(this.service, s)), this.redis.pipeline())
            .exec()) ?? []);
      const now = Date.now();
      this.polls += 1;
      results.forEach(([err, value], i) => {
        if (err) return;
        const stream = this.streams[i]!;
        const owner = typeof value === 'string' ? ownerOf(value) : undefined;
        const h = this.history.get(stream)!;
        if (h.length === 0 || h[h.length - 1]!.owner !== owner) h.push({ at: now, owner });
      });
    } catch {
      this.errors += 1;
    } finally {
      this.busy = false;
    }
  }

  /** Current holder of every stream. */
  owners(): Map<string, string | undefined> {
    const out = new Map<string, string | undefined>();
    for (const [s, h] of this.history) out.set(s, h[h.length - 1]?.owner);
    return out;
  }

  /** The owner id (as seen in lock values) of the process with this pid, if it holds any lock. */
  ownerOfPid(pid: number): string | undefined {
    const token = String(pid);
    for (const h of this.history.values()) {
      for (const c of h) {
        if (c.owner && c.owner.split(/[^A-Za-z0-9]+/).includes(token)) return c.owner;
      }
    }
    return undefined;
  }

  /**
   * Streams `owner` held at `at`, and when each was first seen held by someone else after `at`.
   */
  failoversFrom(owner: string, at: number): Failover[] {
    const out: Failover[] = [];
    for (const [stream, h] of this.history) {
      const before = [...h].reverse().find((c) => c.at <= at);
      if (before?.owner !== owner) continue;
      const moved = h.find((c) => c.at > at && c.owner !== undefined && c.owner !== owner);
      out.push({ stream, from: owner, to: moved?.owner, ms: moved ? moved.at - at : undefined });
    }
    return out;
  }
}

/** `<fence>|<owner id>` → owner id (the whole value when it has no fence part). */
function ownerOf(value: string): string {
  const bar = value.indexOf('|');
  return bar === -1 ? value : value.slice(bar + 1);
}
