import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Command } from 'commander';
import { retry } from '../async.js';
import { BackpressureError } from '../errors.js';
import { describeIssues, validateBatch, type DualEvent } from '../events/index.js';
import { createRedis } from '../redis.js';
import { createPublishQueue, enqueueValidated } from '../queue/index.js';
import { action, EXIT, UsageError } from './errors.js';
import { addConfigFlags, configFrom, positiveInt } from './options.js';
import { createProgress } from './progress.js';

const GROUPS = ['queue'] as const;

/** One rejected input line. */
export interface RejectedLine {
  line: number;
  reason: string;
}

/** Outcome of reading one NDJSON line: its JSON value (not validated yet) or why it has none. */
export type ParsedLine =
  { kind: 'blank' } | { kind: 'value'; value: unknown } | { kind: 'rejected'; reason: string };

/** Parse one NDJSON line into a JSON value or a readable reason. */
export function parseNdjsonLine(text: string): ParsedLine {
  if (text.trim() === '') return { kind: 'blank' };
  try {
    return { kind: 'value', value: JSON.parse(text) as unknown };
  } catch (err) {
    return { kind: 'rejected', reason: `malformed JSON: ${(err as Error).message}` };
  }
}

/** A JSON value read from one line of the input. */
export interface ValueLine {
  line: number;
  value: unknown;
}

/**
 * Validate the values of a batch of lines with the batch validator: the events to enqueue, and
 * each invalid one as a rejected line with its reasons.
 */
export function validateLines(
  lines: readonly ValueLine[],
  maxPayloadBytes: number,
): { events: DualEvent[]; rejected: RejectedLine[] } {
  const { events, rejected } = validateBatch(
    lines.map((l) => l.value),
    { maxPayloadBytes },
  );
  return {
    events,
    rejected: rejected.map((r) => ({
      line: lines[r.index]?.line ?? 0,
      reason: describeIssues(r.issues),
    })),
  };
}

/** `dualstream enqueue [file]`: NDJSON events from a file or stdin into the publish queue. */
export function enqueueCommand(): Command {
  const cmd = new Command('enqueue')
    .description(
      'enqueue events from an NDJSON file (or stdin when no file or "-"), one event per line; exit 0 when every line was accepted, 1 when some were rejected',
    )
    .argument('[file]', 'NDJSON file; "-" or none reads stdin')
    .option('--batch-size <n>', 'events per enqueue round trip', positiveInt, 500);
  addConfigFlags(cmd, ...GROUPS);
  cmd.action(
    action(async (file: string | undefined, opts: Record<string, unknown>) => {
      const config = configFrom(opts, ...GROUPS);
      const batchSize = opts.batchSize as number;
      let input: Readable;
      let totalBytes = 0;
      if (file && file !== '-') {
        try {
          totalBytes = statSync(file).size;
        } catch (err) {
          throw new UsageError(
            `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          );
        }
        input = createReadStream(file);
      } else {
        input = process.stdin;
      }
      const redis = createRedis(config.redis.url, { name: 'dualstream-enqueue' });
      redis.on('error', () => undefined);
      const queue = createPublishQueue(config, { connection: redis });
      const progress = createProgress('enqueue', totalBytes);
      const rejected: RejectedLine[] = [];
      let accepted = 0;
      let duplicates = 0;
      let batch: ValueLine[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const checked = validateLines(batch, config.events.maxPayloadBytes);
        batch = [];
        rejected.push(...checked.rejected);
        const { events } = checked;
        if (events.length === 0) return;
        // A bulk load waits for the workers instead of giving up: the queue drains.
        const result = await retry(
          () =>
            enqueueValidated(queue, events, {
              maxQueueDepth: config.queue.maxQueueDepth,
              timeoutMs: config.queue.backpressureTimeoutMs,
            }),
          {
            retries: Infinity,
            initialMs: 1000,
            retriable: (err) => err instanceof BackpressureError,
            delayOf: (err) => (err instanceof BackpressureError ? err.retryAfterMs : undefined),
          },
        );
        accepted += result.length;
        duplicates += result.filter((r) => r.duplicate).length;
      };
      try {
        const lines = createInterface({ input, crlfDelay: Infinity });
        let lineNo = 0;
        for await (const text of lines) {
          lineNo += 1;
          if (totalBytes > 0) progress.increment(Buffer.byteLength(text) + 1);
          const parsed = parseNdjsonLine(text);
          if (parsed.kind === 'value') batch.push({ line: lineNo, value: parsed.value });
          else if (parsed.kind === 'rejected')
            rejected.push({ line: lineNo, reason: parsed.reason });
          if (batch.length >= batchSize) await flush();
        }
        await flush();
      } finally {
        progress.stop();
        await queue.close().catch(() => undefined);
        await redis.quit().catch(() => undefined);
      }
      // A duplicate (its id was enqueued before) adds nothing: it is not counted as enqueued.
      const fresh = accepted - duplicates;
      const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
      process.stdout.write(
        `enqueued ${plural(fresh, 'event')}` +
          (duplicates ? `, skipped ${plural(duplicates, 'duplicate')} (id already enqueued)` : '') +
          `, rejected ${plural(rejected.length, 'line')}\n`,
      );
      // Malformed lines are known at once, invalid events when their batch is validated.
      rejected.sort((a, b) => a.line - b.line);
      for (const r of rejected) process.stdout.write(`  line ${r.line}: ${r.reason}\n`);
      return rejected.length > 0 ? EXIT.failure : EXIT.ok;
    }),
  );
  return cmd;
}
