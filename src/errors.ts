/**
 * One error hierarchy for the whole library. Every error carries a `retriable` flag (may the same
 * operation succeed if tried again?) and an optional `cause`, so callers and the retry logic can
 * decide without string matching.
 */
export class DualstreamError extends Error {
  /** Whether repeating the failed operation may succeed. */
  readonly retriable: boolean;

  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** One problem found while parsing configuration, naming the variable (or flag) at fault. */
export interface ConfigIssue {
  /** Environment variable or option name, e.g. `KAFKA_BROKERS`. */
  variable: string;
  /** What is wrong with it. */
  message: string;
}

/** Configuration is invalid; start-up must stop. The message names every variable at fault. */
export class ConfigError extends DualstreamError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(
      `Invalid configuration:\n${issues.map((i) => `  - ${i.variable}: ${i.message}`).join('\n')}`,
    );
    this.issues = issues;
  }
}

/** One validation problem of an event, with the path of the offending field. */
export interface EventIssue {
  /** Dotted path of the field, e.g. `sourceId` or `payload`. Empty for the whole event. */
  path: string;
  /** Human readable reason. */
  message: string;
  /** zod issue code (e.g. `invalid_type`, `too_big`, `custom`). */
  code: string;
}

/** An event failed validation. Never retriable: the same input fails again. */
export class EventValidationError extends DualstreamError {
  readonly issues: EventIssue[];

  constructor(issues: EventIssue[]) {
    super(
      `Invalid event: ${issues
        .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
        .join('; ')}`,
    );
    this.issues = issues;
  }
}

/** The publish queue is over its `maxQueueDepth` and did not drain within the timeout. */
export class BackpressureError extends DualstreamError {
  /** Jobs waiting in the queue when we gave up. */
  readonly depth: number;
  /** Suggested wait before trying again, in milliseconds. */
  readonly retryAfterMs: number;

  constructor(depth: number, maxDepth: number, retryAfterMs: number) {
    super(
      `Publish queue is full: ${depth} jobs waiting (maxQueueDepth ${maxDepth}); retry in ${Math.ceil(retryAfterMs / 1000)} s`,
      { retriable: true },
    );
    this.depth = depth;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Writing to Kafka failed. Retriable unless Kafka rejected the record itself. */
export class KafkaPublishError extends DualstreamError {}

/** A stream-ownership operation was refused because the caller no longer holds the lock. */
export class FencingError extends DualstreamError {
  readonly stream: string;

  constructor(stream: string, message = `Not the owner of stream "${stream}" any more (fenced)`) {
    super(message);
    this.stream = stream;
  }
}

/** A stream-ownership operation failed for another reason (Redis error, bad LBS entry). */
export class OwnershipError extends DualstreamError {}
