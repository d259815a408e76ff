// Helpers for the ownership tests: a unique service per test, cleanup of everything under that
// service name, and a fleet of real child processes (test/helpers/ownership-child.ts) that run
// the ingester and report their notifications over IPC.
import { removeOrderState } from '../../src/order/index.js';
import { deleteMatching } from '../../src/redis.js';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig, type DualstreamConfig, type EnvInput } from '../../src/config/index.js';
import { expect } from 'vitest';
import { deriveEventId } from '../../src/ingest/index.js';
import { ownershipQueueName } from '../../src/ownership/index.js';
import { readTopic } from './pipeline-kit.js';
import { trackEdgePrefix } from './edge-cleanup.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

/** A unique service name; every key the test creates starts with it. */
export const uniqService = (): string => `own-${randomUUID().slice(0, 8)}`;

/** The environment of one test's processes (parent config and children alike). */
export function ownershipEnv(service: string, env: EnvInput = {}): Record<string, string> {
  const out: Record<string, string> = {
    REDIS_URL,
    KAFKA_BROKERS: BROKERS,
    DUALSTREAM_SERVICE: service,
    DUALSTREAM_QUEUE: `${service}-publish`,
    KAFKA_TOPIC: `${service}-topic`,
    DUALSTREAM_CHANNEL_PREFIX: trackEdgePrefix(`${service}-events`),
    LOCK_TTL_MS: '1000',
    SWEEP_INTERVAL_MS: '1000',
    LOG_LEVEL: 'silent',
  };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export function ownershipConfig(service: string, env: EnvInput = {}): DualstreamConfig {
  return loadConfig(ownershipEnv(service, env));
}

/** Remove the ownership and publish queues and every key of the service (SCAN on its prefix). */
export async function cleanupService(service: string, config: DualstreamConfig): Promise<void> {
  for (const name of [ownershipQueueName(service), config.queue.name]) {
    const q = new Queue(name, { connection: { url: REDIS_URL }, prefix: config.redis.prefix });
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
  }
  const redis = new Redis(REDIS_URL);
  try {
    await removeOrderState(redis, config.redis.prefix, config.queue.name);
    await deleteMatching(redis, `${service}-*`);
  } finally {
    redis.disconnect();
  }
}

/** A message from a child (see ownership-child.ts). */
export interface ChildMessage {
  type: string;
  child: string;
  at: number;
  stream?: string;
  reason?: string;
  failoverMs?: number;
  streams?: string[];
  id?: string;
  error?: string;
  op?: string;
}

export interface FleetChild {
  name: string;
  proc: ChildProcess;
  /** Consumer id of its ownership client (known after `ready`). */
  id: string;
  exited: boolean;
}

const CHILD = fileURLToPath(new URL('./ownership-child.ts', import.meta.url));

/** A set of ingester processes and everything they reported. */
export class Fleet {
  readonly children: FleetChild[] = [];
  readonly messages: ChildMessage[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly env: Record<string, string>) {}

  /** Start `n` children and wait until each reports `ready`. */
  async spawn(n: number, extraEnv: Record<string, string> = {}): Promise<FleetChild[]> {
    const started: FleetChild[] = [];
    for (let i = 0; i < n; i += 1) {
      const name = `c${this.children.length}`;
      const proc = fork(CHILD, [], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, ...this.env, ...extraEnv, CHILD_NAME: name },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const child: FleetChild = { name, proc, id: '', exited: false };
      proc.on('message', (m: ChildMessage) => {
        if (m.type === 'ready' && m.id) child.id = m.id;
        this.messages.push(m);
        for (const w of this.waiters) w();
      });
      proc.on('exit', () => {
        child.exited = true;
        for (const w of this.waiters) w();
      });
      this.children.push(child);
      started.push(child);
    }
    await this.waitFor(() => started.every((c) => c.id !== ''), 60_000, 'children ready');
    return started;
  }

  /** Resolve when `predicate` holds (checked on every message), reject after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const poll = setInterval(check, 100);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  send(child: FleetChild, msg: Record<string, unknown>): void {
    child.proc.send(msg);
  }

  /** Streams a child currently owns according to its own notifications. */
  ownedBy(child: FleetChild): Set<string> {
    const owned = new Set<string>();
    for (const m of this.messages) {
      if (m.child !== child.name || !m.stream) continue;
      if (m.type === 'StreamAdded' || m.type === 'StreamClaimed') owned.add(m.stream);
      if (m.type === 'StreamDisowned' || m.type === 'released') owned.delete(m.stream);
    }
    return owned;
  }

  /** The child owning the most streams (at least one). */
  busiest(): FleetChild {
    const sorted = [...this.children].sort((a, b) => this.ownedBy(b).size - this.ownedBy(a).size);
    const c = sorted[0];
    if (!c || this.ownedBy(c).size === 0) throw new Error('no owner');
    return c;
  }

  /**
   * Wait until every stream in `streams` was claimed after message index `since` (a fault).
   * Returns a function listing those claims, including any that arrive later.
   */
  async takeover(
    streams: Set<string>,
    since: number,
    timeoutMs: number,
    what = 'claims',
  ): Promise<() => ChildMessage[]> {
    const claims = () =>
      this.messages
        .slice(since)
        .filter((m) => m.type === 'StreamClaimed' && m.stream && streams.has(m.stream));
    await this.waitFor(
      () => new Set(claims().map((m) => m.stream)).size >= streams.size,
      timeoutMs,
      what,
    );
    return claims;
  }

  of(type: string, child?: FleetChild): ChildMessage[] {
    return this.messages.filter((m) => m.type === type && (!child || m.child === child.name));
  }

  /** Ask every live child to close gracefully; kill what does not exit in time. */
  async closeAll(): Promise<void> {
    await Promise.all(
      this.children.map(async (c) => {
        if (c.exited) return;
        c.proc.kill('SIGCONT');
        c.proc.send({ cmd: 'close' });
        await this.waitFor(() => c.exited, 15_000, `${c.name} exit`).catch(() => {
          c.proc.kill('SIGKILL');
        });
      }),
    );
  }
}

/** Current owner (consumer id) of each stream according to the lock keys in Redis. */
export async function lockOwners(
  redis: Redis,
  service: string,
  streams: readonly string[],
): Promise<Map<string, string | null>> {
  const pipeline = redis.pipeline();
  for (const s of streams) pipeline.get(`${service}-lock:${s}`);
  const res = (await pipeline.exec()) ?? [];
  return new Map(
    streams.map((s, i) => {
      const v = res[i]?.[1] as string | null;
      return [s, v ? v.slice(v.indexOf('|') + 1) : null];
    }),
  );
}

/** Per stream, ms from `since` to its first claim among `claims`. */
export function firstClaimMs(claims: ChildMessage[], since: number): Map<string, number> {
  const byStream = new Map<string, number>();
  for (const m of claims)
    if (m.stream && !byStream.has(m.stream)) byStream.set(m.stream, m.at - since);
  return byStream;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes one event to every stream every `everyMs`, remembering the ids it expects in Kafka. */
export function startProducer(
  redis: Redis,
  streams: string[],
  everyMs = 25,
  opts: { tolerateErrors?: boolean } = {},
) {
  const expected: string[] = [];
  /** Entry ids by stream, of the entries in `expected`. */
  const entries = new Map<string, string[]>();
  let failed = 0;
  let n = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      // One command per stream (not a pipeline): on a Redis Cluster the streams are in many slots.
      const ids = await Promise.all(
        streams.map((s) => {
          const event = { type: 'test.tick', sourceType: 'stream', sourceId: s, payload: { n } };
          const added = redis.xadd(s, '*', 'event', JSON.stringify(event));
          // During a Redis failover an XADD can fail: that entry was never accepted.
          return opts.tolerateErrors ? added.catch(() => null) : added;
        }),
      );
      n += 1;
      ids.forEach((id, i) => {
        const stream = streams[i] ?? '';
        if (id === null) {
          failed += 1;
          return;
        }
        expected.push(deriveEventId(stream, String(id)));
        entries.set(stream, [...(entries.get(stream) ?? []), String(id)]);
      });
      await sleep(everyMs);
    }
  })();
  return {
    expected,
    entries,
    /** XADDs refused (with `tolerateErrors`). */
    failed: () => failed,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Wait until every expected event was published, then check Kafka holds each exactly once. */
export async function expectExactlyOnceInKafka(
  queue: Queue,
  topic: string,
  expected: string[],
): Promise<void> {
  const deadline = Date.now() + 45_000;
  while ((await queue.getCompletedCount()) < expected.length && Date.now() < deadline)
    await sleep(250);
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
  const [firstFailed] = await queue.getFailed(0, 0);
  if (firstFailed) console.log(`first failed job ${firstFailed.id}: ${firstFailed.failedReason}`);
  const records = await readTopic(topic);
  const seen = new Map<string, number>();
  for (const r of records) {
    const id = (JSON.parse(r.value) as { id: string }).id;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const missing = expected.filter((id) => !seen.has(id));
  const twice = [...seen].filter(([, n]) => n > 1);
  console.log(
    `kafka: ${records.length} records for ${expected.length} entries, ${missing.length} missing, ${twice.length} duplicated; jobs ${JSON.stringify(counts)}`,
  );
  expect(missing).toEqual([]);
  expect(twice).toEqual([]);
  expect(records.length).toBe(expected.length);
}
