import { Command, InvalidArgumentError } from 'commander';
import { Queue, type Job } from 'bullmq';
import { createRedis } from '../redis.js';
import { action, EXIT, UsageError } from './errors.js';
import { addConfigFlags, configFrom, parseDuration } from './options.js';
import { createProgress } from './progress.js';

const GROUPS = ['connection'] as const;

/** Filters of `retry-failed`; all given filters must match. */
export interface FailedJobFilter {
  /** Matches the job's failure reason. */
  reason?: RegExp;
  /** Failed at least this long ago (ms). */
  olderThanMs?: number;
  /** Failed at most this long ago (ms). */
  newerThanMs?: number;
}

/** A failed job as listed by `retry-failed`. */
export interface FailedJobSummary {
  id: string;
  name: string;
  failedAt?: number;
  reason: string;
  attemptsMade: number;
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

function hasFilter(f: FailedJobFilter): boolean {
  return f.reason !== undefined || f.olderThanMs !== undefined || f.newerThanMs !== undefined;
}

/**
 * Page through the failed set (newest first) and return the matching jobs. Read-only: collecting
 * first and retrying afterwards keeps the paging stable while the set shrinks.
 */
export async function findFailed(
  queue: Queue,
  filter: FailedJobFilter,
  options: { pageSize: number; onPage?: (scanned: number) => void },
): Promise<Job[]> {
  const now = Date.now();
  const found: Job[] = [];
  for (let start = 0; ; start += options.pageSize) {
    const page = await queue.getFailed(start, start + options.pageSize - 1);
    for (const job of page) if (job && matchesFilter(job, filter, now)) found.push(job);
    options.onPage?.(page.length);
    if (page.length < options.pageSize) return found;
  }
}

function regexArg(v: string): RegExp {
  try {
    return new RegExp(v);
  } catch (err) {
    throw new InvalidArgumentError(`invalid regular expression: ${(err as Error).message}`);
  }
}

function durationArg(v: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

/** `dualstream retry-failed`: move failed jobs back to waiting. */
export function retryFailedCommand(): Command {
  const cmd = new Command('retry-failed')
    .description(
      'retry failed jobs of a queue (default: the publish queue), optionally filtered by reason and age',
    )
    .option('--reason <regex>', 'only jobs whose failure reason matches', regexArg)
    .option(
      '--older-than <duration>',
      'only jobs that failed at least this long ago (e.g. 10m)',
      durationArg,
    )
    .option(
      '--newer-than <duration>',
      'only jobs that failed at most this long ago (e.g. 1h)',
      durationArg,
    )
    .option('--dry-run', 'list the jobs that would be retried, change nothing')
    .option('--page-size <n>', 'failed jobs read per round trip', positiveInt, 500)
    .option('--concurrency <n>', 'retries in flight at once', positiveInt, 50);
  addConfigFlags(cmd, ...GROUPS);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts, ...GROUPS);
      const filter: FailedJobFilter = {
        ...(opts.reason ? { reason: opts.reason as RegExp } : {}),
        ...(opts.olderThan !== undefined ? { olderThanMs: opts.olderThan as number } : {}),
        ...(opts.newerThan !== undefined ? { newerThanMs: opts.newerThan as number } : {}),
      };
      if (
        filter.olderThanMs !== undefined &&
        filter.newerThanMs !== undefined &&
        filter.olderThanMs > filter.newerThanMs
      ) {
        throw new UsageError('--older-than is larger than --newer-than: no job can match');
      }
      const pageSize = opts.pageSize as number;
      const concurrency = opts.concurrency as number;
      const dryRun = opts.dryRun === true;
      const redis = createRedis(config.redis.url, { name: 'dualstream-retry-failed' });
      redis.on('error', () => undefined);
      const queue = new Queue(config.queue.name, {
        connection: redis,
        prefix: config.redis.prefix,
      });
      const out = (s: string) => process.stdout.write(`${s}\n`);
      try {
        const failedCount = await queue.getFailedCount();
        if (!dryRun && !hasFilter(filter)) {
          // No filter: let BullMQ move the whole set in Lua, a page at a time, instead of
          // loading every job into this process.
          const progress = createProgress('retry', failedCount);
          const started = Date.now();
          await queue.retryJobs({ state: 'failed', count: pageSize, timestamp: started });
          const left = await queue.getFailedCount();
          progress.increment(failedCount);
          progress.stop();
          out(`retried ${Math.max(0, failedCount - left)} failed job(s) of queue "${queue.name}"`);
          return EXIT.ok;
        }
        const scan = createProgress('scan', failedCount);
        const jobs = await findFailed(queue, filter, {
          pageSize,
          onPage: (n) => scan.increment(n),
        });
        scan.stop();
        if (dryRun) {
          out(
            `${jobs.length} of ${failedCount} failed job(s) of queue "${queue.name}" would be retried (dry run, nothing changed):`,
          );
          for (const job of jobs) {
            const at = job.finishedOn ? new Date(job.finishedOn).toISOString() : '?';
            out(
              `  ${job.id}\t${job.name}\tfailed ${at}\tattempts ${job.attemptsMade}\t${job.failedReason ?? ''}`,
            );
          }
          return EXIT.ok;
        }
        const progress = createProgress('retry', jobs.length);
        let retried = 0;
        const skipped: string[] = [];
        for (let i = 0; i < jobs.length; i += concurrency) {
          const slice = jobs.slice(i, i + concurrency);
          const results = await Promise.allSettled(
            slice.map((job) =>
              job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }),
            ),
          );
          results.forEach((r, k) => {
            // A job retried or removed meanwhile (by Bull Board, another operator) is skipped.
            if (r.status === 'fulfilled') retried += 1;
            else skipped.push(`${slice[k]?.id}: ${(r.reason as Error).message}`);
          });
          progress.increment(slice.length);
        }
        progress.stop();
        out(`retried ${retried} of ${jobs.length} matching failed job(s) of queue "${queue.name}"`);
        for (const s of skipped) out(`  skipped ${s}`);
        return skipped.length > 0 ? EXIT.failure : EXIT.ok;
      } finally {
        await queue.close().catch(() => undefined);
        await redis.quit().catch(() => undefined);
      }
    }),
  );
  return cmd;
}
