import { Command, InvalidArgumentError } from 'commander';
import { Queue } from 'bullmq';
import { createRedis } from '../redis.js';
import { action, EXIT, UsageError } from './errors.js';
import {
  findFailed,
  groupReasons,
  retryFailedJobs,
  watchOutcome,
  type FailedJobFilter,
} from './failed-jobs.js';
import { addConfigFlags, configFrom, parseDuration, positiveInt } from './options.js';
import { createProgress } from './progress.js';

export { matchesFilter, failedAsInvalid, type FailedJobFilter } from './failed-jobs.js';

const GROUPS = ['queue'] as const;

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

/** `dualstream retry-failed`: move failed jobs back to waiting and report what became of them. */
export function retryFailedCommand(): Command {
  const cmd = new Command('retry-failed')
    .description(
      'retry failed jobs of a queue (default: the publish queue), optionally filtered by reason and age, and report what became of them. Invalid events (failed validation) are skipped unless --include-invalid',
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
    .option(
      '--include-invalid',
      'also retry jobs that failed validation (UnrecoverableError); they fail again unless the event was fixed',
    )
    .option('--dry-run', 'list the jobs that would be retried, change nothing')
    .option(
      '--wait <duration>',
      'follow the retried jobs this long and report published / failed again; 0 = do not wait',
      durationArg,
      30_000,
    )
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
      const includeInvalid = opts.includeInvalid === true;
      const waitMs = opts.wait as number;
      const redis = createRedis(config.redis.url, { name: 'dualstream-retry-failed' });
      redis.on('error', () => undefined);
      const queue = new Queue(config.queue.name, {
        connection: redis,
        prefix: config.redis.prefix,
      });
      const out = (s: string) => process.stdout.write(`${s}\n`);
      try {
        const failedCount = await queue.getFailedCount();
        const scan = createProgress('scan', failedCount);
        const matching = await findFailed(queue, filter, {
          pageSize: opts.pageSize as number,
          onPage: (n) => scan.increment(n),
        });
        scan.stop();
        const chosen = matching.filter((j) => includeInvalid || !j.invalid);
        const invalid = matching.filter((j) => !includeInvalid && j.invalid);
        const reportInvalid = (verb: string) => {
          if (invalid.length === 0) return;
          out(
            `${verb} ${invalid.length} invalid event(s): they failed validation and would fail the same way again (--include-invalid retries them):`,
          );
          for (const [reason, n] of groupReasons(invalid.map((j) => j.reason))) {
            out(`  ${n}× ${reason}`);
          }
        };
        const filtered =
          filter.reason !== undefined ||
          filter.olderThanMs !== undefined ||
          filter.newerThanMs !== undefined;
        out(
          `queue "${queue.name}": ${failedCount} failed job(s)` +
            (filtered ? `, ${matching.length} matching the filters` : ''),
        );

        if (opts.dryRun === true) {
          out(`${chosen.length} job(s) would be retried (dry run, nothing changed):`);
          for (const job of chosen) {
            const at = job.failedAt ? new Date(job.failedAt).toISOString() : '?';
            out(
              `  ${job.id}\t${job.name}\tfailed ${at}\tattempts ${job.attemptsMade}\t${job.reason}`,
            );
          }
          reportInvalid('would skip');
          return EXIT.ok;
        }

        const progress = createProgress('retry', chosen.length);
        const results = await retryFailedJobs(
          queue,
          chosen.map((j) => j.id),
          { concurrency: opts.concurrency as number, onDone: (n) => progress.increment(n) },
        );
        progress.stop();
        const retried = results.filter((r) => 'retried' in r).map((r) => r.id);
        const skipped = results.flatMap((r) => ('skipped' in r ? [r] : []));
        out(`retried ${retried.length} failed job(s)`);
        reportInvalid('skipped');
        for (const s of skipped) out(`skipped ${s.id}: ${s.skipped}`);

        let ok = skipped.length === 0;
        if (waitMs > 0 && retried.length > 0) {
          const started = Date.now();
          const outcome = await watchOutcome(queue, retried, { timeoutMs: waitMs });
          const secs = ((Date.now() - started) / 1000).toFixed(1);
          out(
            `after ${secs} s: ${outcome.completed} published, ${outcome.failedAgain.length} failed again, ${outcome.pending} still pending`,
          );
          for (const [reason, n] of groupReasons(outcome.failedAgain.map((f) => f.reason))) {
            out(`  failed again ${n}× ${reason}`);
          }
          if (outcome.pending > 0) {
            out(
              `  ${outcome.pending} not finished within --wait ${waitMs} ms (waiting, delayed by a backoff or a Kafka cool-down, or no worker running)`,
            );
          }
          ok = ok && outcome.failedAgain.length === 0 && outcome.pending === 0;
        }
        return ok ? EXIT.ok : EXIT.failure;
      } finally {
        await queue.close().catch(() => undefined);
        await redis.quit().catch(() => undefined);
      }
    }),
  );
  return cmd;
}
