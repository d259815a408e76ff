import type { Job, Queue } from 'bullmq';
import { sleep } from '../async.js';

/** Filters of `retry-failed`; all given filters must match. */
export interface FailedJobFilter {
  /** Matches the job's failure reason. */
  reason?: RegExp;
  /** Failed at least this long ago (ms). */
  olderThanMs?: number;
  /** Failed at most this long ago (ms). */
  newerThanMs?: number;
}

/** A failed job as listed by `retry-failed`: what is needed to report on it, not its data. */
export interface FailedJobSummary {
  id: string;
  name: string;
  failedAt?: number;
  reason: string;
  attemptsMade: number;
  /** It failed with `UnrecoverableError` (an invalid event): a retry fails the same way. */
  invalid: boolean;
}

/** Whether a failed job matches the filter, at time `now`. */
export function matchesFilter(
  job: Pick<Job, 'failedReason' | 'finishedOn' | 'timestamp'>,
  filter: FailedJobFilter,
  now: number,
): boolean {
  if (filter.reason && !filter.reason.test(job.failedReason ?? '')) return false;
  const failedAt = job.finishedOn ?? job.timestamp;
  const age = now - failedAt;
  if (filter.olderThanMs !== undefined && age < filter.olderThanMs) return false;
  if (filter.newerThanMs !== undefined && age > filter.newerThanMs) return false;
  return true;
}

/**
 * Whether the job's last failure was an `UnrecoverableError`: the worker throws it for an event
 * that fails validation, and BullMQ fails such a job at once, whatever attempts are left. BullMQ
 * keeps no flag for it; the recorded stack of the last failure starts with the error's name.
 */
export function failedAsInvalid(job: Pick<Job, 'stacktrace'>): boolean {
  const last = job.stacktrace?.at(-1);
  return typeof last === 'string' && last.startsWith('UnrecoverableError');
}

/**
 * Page through the failed set (newest first) and summarise the matching jobs. Read-only:
 * collecting first and retrying afterwards keeps the paging stable while the set shrinks.
 */
export async function findFailed(
  queue: Queue,
  filter: FailedJobFilter,
  options: { pageSize: number; onPage?: (scanned: number) => void },
): Promise<FailedJobSummary[]> {
  const now = Date.now();
  const found: FailedJobSummary[] = [];
  for (let start = 0; ; start += options.pageSize) {
    const page = await queue.getFailed(start, start + options.pageSize - 1);
    for (const job of page) {
      if (!job?.id || !matchesFilter(job, filter, now)) continue;
      found.push({
        id: job.id,
        name: job.name,
        ...(job.finishedOn ? { failedAt: job.finishedOn } : {}),
        reason: job.failedReason ?? '',
        attemptsMade: job.attemptsMade,
        invalid: failedAsInvalid(job),
      });
    }
    options.onPage?.(page.length);
    if (page.length < options.pageSize) return found;
  }
}

/** What became of one retry request. */
export type RetryResult = { id: string; retried: true } | { id: string; skipped: string };

/**
 * Retry each job with one attempt policy, filters or not: back to waiting with its attempt
 * counters reset, so it gets the queue's full retry budget again. A job retried or removed
 * meanwhile (Bull Board, another operator) is skipped with the reason.
 */
export async function retryFailedJobs(
  queue: Queue,
  ids: string[],
  options: { concurrency: number; onDone?: (n: number) => void },
): Promise<RetryResult[]> {
  const results: RetryResult[] = [];
  for (let i = 0; i < ids.length; i += options.concurrency) {
    const slice = ids.slice(i, i + options.concurrency);
    const settled = await Promise.all(
      slice.map(async (id): Promise<RetryResult> => {
        const job = await queue.getJob(id);
        if (!job) return { id, skipped: 'no longer exists' };
        try {
          await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          return { id, retried: true };
        } catch (err) {
          return { id, skipped: (err as Error).message };
        }
      }),
    );
    results.push(...settled);
    options.onDone?.(slice.length);
  }
  return results;
}

/** Where retried jobs stand after {@link watchOutcome}. */
export interface RetryOutcome {
  completed: number;
  /** Jobs that failed again, with their new reason. */
  failedAgain: Array<{ id: string; reason: string }>;
  /** Still waiting, delayed (a retry backoff, a Kafka cool-down) or active when time ran out. */
  pending: number;
}

/**
 * Follow retried jobs until each has completed or failed again, or `timeoutMs` passed. Polls
 * the job states of the unsettled jobs only.
 */
export async function watchOutcome(
  queue: Queue,
  ids: string[],
  options: { timeoutMs: number; pollMs?: number },
): Promise<RetryOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  let open = [...ids];
  let completed = 0;
  const failedAgain: RetryOutcome['failedAgain'] = [];
  for (;;) {
    const states = await Promise.all(open.map((id) => queue.getJobState(id)));
    const still: string[] = [];
    for (let i = 0; i < open.length; i++) {
      const id = open[i]!;
      if (states[i] === 'completed') completed += 1;
      else if (states[i] === 'failed') {
        const job = await queue.getJob(id);
        failedAgain.push({ id, reason: job?.failedReason ?? '' });
      } else still.push(id);
    }
    open = still;
    if (open.length === 0 || Date.now() >= deadline) break;
    await sleep(options.pollMs ?? 250);
  }
  return { completed, failedAgain, pending: open.length };
}

/** Count reasons, most frequent first, each shortened to one line. */
export function groupReasons(reasons: string[], maxLength = 160): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const r of reasons) {
    const line = (r.split('\n')[0] ?? '').trim();
    const short = line.length > maxLength ? `${line.slice(0, maxLength - 1)}…` : line;
    counts.set(short, (counts.get(short) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}
