import { orderKeys } from '../../src/order/index.js';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { jobEventId } from '../../src/queue/index.js';
import { Redis } from 'ioredis';
import type { HostileDriver } from './hostile-driver.js';
import type { LoadDriver } from './load-driver.js';
import type { ChaosLog } from './log.js';
import type { HostileSummary } from './report.js';
import type { verify } from './verify.js';

/** The queue Redis (shared; every key of a run carries its namespace). */
export const QUEUE_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// Inspections of Redis and the product's logs after (and during) a chaos run.

/** Jobs active in a worker at the moment it was killed. */
export interface KillSnapshot {
  at: number;
  worker: string;
  jobs: Array<{ jobId: string; eventId: string; token: string }>;
}

/** Active jobs with their event id and the lock token (`<worker id>:<n>`) of their holder. */
export async function activeJobs(redis: Redis, queue: Queue): Promise<KillSnapshot['jobs']> {
  const jobs = await queue.getJobs(['active']);
  const tokens = await Promise.all(
    jobs.map((j) => redis.get(`${queue.qualifiedName}:${j.id}:lock`)),
  );
  return jobs.map((j, i) => ({
    jobId: String(j.id),
    eventId:
      typeof (j.data as { id?: unknown })?.id === 'string'
        ? (j.data as { id: string }).id
        : jobEventId(j),
    token: tokens[i] ?? '',
  }));
}

/**
 * Of the jobs active at a worker kill, those the killed worker held: BullMQ later found them
 * stalled (their lock expired with the process), and they share its lock-token prefix.
 */
export async function jobsOfKilledWorkers(
  queue: Queue,
  snapshots: KillSnapshot[],
): Promise<Array<{ worker: string; eventId: string }>> {
  const out: Array<{ worker: string; eventId: string }> = [];
  for (const s of snapshots) {
    const prefixes = new Set<string>();
    for (const j of s.jobs) {
      const job = await queue.getJob(j.jobId);
      if (job && job.stalledCounter > 0) prefixes.add(j.token.split(':')[0] ?? '');
    }
    for (const j of s.jobs) {
      if (prefixes.has(j.token.split(':')[0] ?? ''))
        out.push({ worker: s.worker, eventId: j.eventId });
    }
  }
  return out;
}

const STUCK_MS = 20_000;

/**
 * Wait until the publish queue has no waiting/active/delayed jobs and every stream is read and
 * acknowledged, at most `timeoutMs` (less when nothing moves at all for 20 s).
 */
export async function waitForDrain(
  redis: Redis,
  queue: Queue,
  streams: string[],
  group: string,
  timeoutMs: number,
  log: ChaosLog,
): Promise<{ drained: boolean; ms: number; detail: string }> {
  const started = Date.now();
  let detail = '';
  let lastLog = 0;
  let changedAt = started;
  while (Date.now() - started < timeoutMs) {
    const counts = await queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'waiting-children',
    );
    const queued = Object.values(counts).reduce((a, b) => a + b, 0);
    let unread = 0;
    let pending = 0;
    for (const s of streams) {
      const g = await streamGroup(redis, s, group);
      unread += g.lag;
      pending += g.pending;
    }
    const now = `queue ${JSON.stringify(counts)}, stream entries unread ${unread}, pending ${pending}`;
    if (now !== detail) changedAt = Date.now();
    detail = now;
    if (queued === 0 && unread === 0 && pending === 0)
      return { drained: true, ms: Date.now() - started, detail };
    // Nothing moves at all: no delayed job is waiting for its backoff either, so waiting longer
    // cannot help. Give up early instead of burning the whole bound.
    if (counts.delayed === 0 && counts.active === 0 && Date.now() - changedAt > STUCK_MS) {
      return {
        drained: false,
        ms: Date.now() - started,
        detail: `stuck for ${STUCK_MS / 1000} s: ${detail}`,
      };
    }
    if (Date.now() - lastLog > 5000) {
      log.info(`draining: ${detail}`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
  return { drained: false, ms: Date.now() - started, detail };
}

/** Unread and pending entries of one data stream for the ingesters' consumer group. */
export async function streamGroup(
  redis: Redis,
  stream: string,
  group: string,
): Promise<{ lag: number; pending: number }> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  for (const g of groups) {
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) m.set(String(g[i]), g[i + 1]);
    if (m.get('name') !== group) continue;
    const lag = m.get('lag');
    // lag is null when Redis cannot compute it (e.g. after deletions): compare ids instead.
    let unread = typeof lag === 'number' ? lag : 0;
    if (lag === null) {
      const last = String(m.get('last-delivered-id'));
      unread = ((await redis.xrange(stream, `(${last}`, '+', 'COUNT', 1000)) as unknown[]).length;
    }
    return { lag: unread, pending: Number(m.get('pending') ?? 0) };
  }
  // No group yet: nobody has read the stream.
  return { lag: Number(await redis.xlen(stream)), pending: 0 };
}

/** Judge the hostile inputs: refused at the entry, or failed at once without reaching Kafka. */
export async function judgeHostile(
  queue: Queue,
  redis: Redis,
  group: string,
  driver: HostileDriver,
  result: ReturnType<typeof verify>,
): Promise<HostileSummary> {
  const summary: HostileSummary = {
    bullmq: { tried: 0, rejected: 0, unsent: 0, misbehaved: 0, samples: [] },
    http: { tried: 0, rejected: 0, unsent: 0, misbehaved: 0, samples: [] },
    stream: { tried: 0, rejected: 0, unsent: 0, misbehaved: 0, samples: [] },
    leakedIntoKafka: result.leaked.total,
    byKind: {},
  };
  const bad = (entry: keyof Omit<HostileSummary, 'leakedIntoKafka' | 'byKind'>, text: string) => {
    summary[entry].misbehaved += 1;
    if (summary[entry].samples.length < 10) summary[entry].samples.push(text);
  };
  for (const h of driver.outcomes) {
    const s = summary[h.entry];
    s.tried += 1;
    summary.byKind[`${h.entry}:${h.kind}`] = (summary.byKind[`${h.entry}:${h.kind}`] ?? 0) + 1;
    if (h.unsent) {
      s.unsent += 1;
      continue;
    }
    if (h.entry === 'http') {
      if (h.refusedAtEntry) s.rejected += 1;
      else bad('http', `${h.kind} ${h.marker}: answered ${h.answer}`);
    } else if (h.entry === 'bullmq') {
      if (h.refusedAtEntry) {
        s.rejected += 1;
        continue;
      }
      const job = await queue.getJob(h.ref!);
      const state = job ? await job.getState() : 'missing';
      // attempts were 5: failing on the first attempt proves UnrecoverableError.
      if (job && state === 'failed' && job.attemptsMade <= 1) s.rejected += 1;
      else
        bad(
          'bullmq',
          `${h.kind} ${h.ref}: state ${state}, attemptsMade ${job?.attemptsMade}, reason ${job?.failedReason?.slice(0, 120)}`,
        );
    } else {
      // A stream entry is rejected when the ingester consumed and acknowledged it (it must not
      // block the stream) and nothing of it reached Kafka (the verifier counts leaks by its id
      // and marker).
      if (!h.stream || !h.entryId) {
        bad('stream', `${h.kind} ${h.marker}: ${h.answer}`);
        continue;
      }
      const pending = (await redis.xpending(h.stream, group, h.entryId, h.entryId, 1)) as unknown[];
      if (pending.length === 0) s.rejected += 1;
      else bad('stream', `${h.kind} ${h.ref}: still pending (never acknowledged)`);
    }
  }
  return summary;
}

/**
 * The failed set: jobs of valid events the suite offered (must be none) and the rest (hostile
 * input, which belongs there).
 */
export async function failedJobs(
  queue: Queue,
  load: LoadDriver,
): Promise<{ total: number; hostile: number; valid: number; samples: string[] }> {
  const expected = new Set<string>();
  for (const id of load.events.keys()) expected.add(load.derivedIds.get(id) ?? id);
  const jobs = await queue.getJobs(['failed']);
  const samples: string[] = [];
  let valid = 0;
  for (const j of jobs) {
    const data = j.data as { id?: unknown } | null;
    const eventId = typeof data?.id === 'string' ? data.id : String(j.id);
    if (!expected.has(eventId)) continue;
    valid += 1;
    if (samples.length < 10)
      samples.push(`${j.id} (attempts ${j.attemptsMade}): ${j.failedReason?.slice(0, 160)}`);
  }
  return { total: jobs.length, hostile: jobs.length - valid, valid, samples };
}

/**
 * Failover times the ingesters report themselves (`claimed stream` log lines with `failoverMs`:
 * from the lock's expiry or release to the new owner's claim).
 */
export function claimedFailovers(logFiles: string[]): number[] {
  const out: number[] = [];
  for (const file of logFiles) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.includes('"claimed stream"') || !line.includes('failoverMs')) continue;
      try {
        const ms = (JSON.parse(line) as { failoverMs?: unknown }).failoverMs;
        if (typeof ms === 'number') out.push(ms);
      } catch {
        // Not a JSON line.
      }
    }
  }
  return out.sort((a, b) => a - b);
}

/** Delete every key of this run (all carry the run's unique namespace). */
export async function deleteKeys(ns: string): Promise<void> {
  const redis = new Redis(QUEUE_REDIS_URL, { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${ns}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/**
 * Why jobs of a queue still wait for their source: for a few sources with jobs left, the head of
 * the source's order list, its admission, its BullMQ state and whether its lock exists.
 */
export async function explainOrder(redis: Redis, queue: Queue, max = 8): Promise<string[]> {
  const base = `${queue.opts.prefix ?? 'bull'}:${queue.name}`;
  const keys = orderKeys(queue.opts.prefix ?? 'bull', queue.name);
  const lines: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(
      cursor,
      'MATCH',
      `${keys.sourceListPrefix}*`,
      'COUNT',
      500,
    );
    cursor = next;
    for (const list of found) {
      if (lines.length >= max) break;
      const head = await redis.lrange(list, 0, 2);
      const parts = await Promise.all(
        head.map(async (id) => {
          const [adm, state, lock, fields, parked, due] = await Promise.all([
            redis.hget(keys.adm, id),
            queue.getJobState(id),
            redis.exists(`${base}:${id}:lock`),
            redis.hmget(`${base}:${id}`, 'failedReason', 'atm', 'ats', 'stc'),
            redis.sismember(keys.parked, id),
            redis.zscore(keys.delayed, id),
          ]);
          const [failedReason, atm, ats, stc] = fields;
          const dueIn =
            due === null ? '' : `, due in ${Math.round(Number(due) / 0x1000 - Date.now())} ms`;
          return `${id} [${state}${lock ? ', locked' : ''}${parked ? ', parked' : ''}${dueIn}${adm ? `, adm ${adm}` : ''}, atm ${atm ?? 0} ats ${ats ?? 0} stc ${stc ?? 0}${failedReason ? `, ${failedReason.slice(0, 80)}` : ''}]`;
        }),
      );
      const seq = await redis.hget(keys.seq, list.slice(keys.sourceListPrefix.length));
      lines.push(
        `${list.slice(keys.sourceListPrefix.length)} (seq ${seq ?? 0}, ${await redis.llen(list)} left): ${parts.join(' → ')}`,
      );
    }
  } while (cursor !== '0' && lines.length < max);
  return lines;
}
