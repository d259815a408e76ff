/**
 * The small asynchronous helpers every part shares: a sleep, a timeout race, an error emit that a
 * throwing listener cannot turn into a crash, and one backoff policy (exponential, capped, with
 * jitter) with the retry loop built on it. Nothing here knows about Redis, Kafka or BullMQ.
 */
import type { EventEmitter } from 'node:events';

/** Any thrown value as an `Error` (a string or object thrown by a library becomes the message). */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Options of {@link sleep}. */
export interface SleepOptions {
  /** Resolve early when this signal fires. */
  signal?: AbortSignal;
  /** Do not keep the process alive for this timer alone. @defaultValue false */
  unref?: boolean;
}

/** Resolve after `ms` (or at once when `signal` fires first). Never rejects. */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (options.unref) timer.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Settle like `promise`, or reject with `onTimeout()` (an `Error` with `message`, when a string
 * is given) if it has not settled within `ms`. The timer is always cleared. A late settlement of
 * `promise` is ignored (and its rejection handled, so it is never unhandled).
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: string | (() => Error),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(typeof onTimeout === 'string' ? new Error(onTimeout) : onTimeout()),
      ms,
    );
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Emit `error` on `emitter` when someone listens, and otherwise hand the error to `fallback`
 * (typically a log line). A listener that throws is caught and the error goes to `fallback` too:
 * a background loop reports its failures and never dies of them.
 */
export function safeEmitError(
  emitter: Pick<EventEmitter, 'emit' | 'listenerCount'>,
  err: unknown,
  fallback: (err: Error) => void = () => undefined,
): void {
  const e = toError(err);
  if (emitter.listenerCount('error') > 0) {
    try {
      emitter.emit('error', e);
      return;
    } catch {
      // A throwing listener must not kill the loop that reports; fall through.
    }
  }
  fallback(e);
}

/** A backoff policy: exponential growth from `initialMs`, capped at `maxMs`, with jitter. */
export interface BackoffOptions {
  /** Delay before the first retry. */
  initialMs: number;
  /** Largest delay. @defaultValue Infinity */
  maxMs?: number;
  /** Growth per retry. @defaultValue 2 */
  factor?: number;
  /**
   * Share of the delay that is random, 0 to 1: the delay is drawn from
   * `[delay × (1 − jitter), delay]`, so many clients that failed together do not retry together.
   * @defaultValue 0
   */
  jitter?: number;
  /** Random source in [0, 1); a test passes a fixed one. @defaultValue `Math.random` */
  random?: () => number;
}

/**
 * The delay before retry number `retry` (1 for the first retry) under `options`, in whole ms.
 * The exponent is capped, so a very large `retry` cannot overflow to Infinity.
 */
export function backoffDelay(retry: number, options: BackoffOptions): number {
  const factor = options.factor ?? 2;
  const exponent = Math.min(Math.max(retry - 1, 0), 30);
  const full = Math.min(options.initialMs * factor ** exponent, options.maxMs ?? Infinity);
  const jitter = Math.min(Math.max(options.jitter ?? 0, 0), 1);
  const random = options.random ?? Math.random;
  return Math.round(full * (1 - jitter * random()));
}

/** The backoff of a loop that runs until stopped: `next()` after a failure, `reset()` after a success. */
export class Backoff {
  private failures = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The delay to wait after one more failure. */
  next(): number {
    this.failures += 1;
    return backoffDelay(this.failures, this.options);
  }

  /** A success: the next failure waits `initialMs` again. */
  reset(): void {
    this.failures = 0;
  }
}

/** Options of {@link retry}. */
export interface RetryOptions extends BackoffOptions {
  /** Retries after the first attempt (Infinity: until it succeeds or `signal` fires). */
  retries: number;
  /** Whether an error is worth another attempt. @defaultValue every error */
  retriable?: (err: unknown) => boolean;
  /** A delay the error itself asks for (e.g. a server's retry-after), instead of the backoff. */
  delayOf?: (err: unknown) => number | undefined;
  /** Called before each wait, e.g. to log the failure. */
  onRetry?: (err: unknown, retry: number, delayMs: number) => void;
  /** Stop retrying (the last error is thrown) once this fires. */
  signal?: AbortSignal;
}

/**
 * Run `fn` until it resolves; after a retriable failure wait the backoff (or what `delayOf`
 * says) and try again, at most `retries` times. The last error is thrown as is.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (err) {
      const retriable = options.retriable?.(err) ?? true;
      if (!retriable || attempt > options.retries || options.signal?.aborted) throw err;
      const delayMs = options.delayOf?.(err) ?? backoffDelay(attempt, options);
      options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, options.signal ? { signal: options.signal } : {});
    }
  }
}

/** Options of {@link TickBatcher}. */
export interface TickBatcherOptions<T, R> {
  /**
   * Handles one batch, in the order the items were added; returns one result per item (an
   * `Error` in a slot rejects that item alone). A rejection rejects every item of the batch.
   */
  run: (items: T[]) => Promise<Array<R | Error>>;
  /** Most items per call of `run`; a larger batch is split, the parts sent in order. */
  maxItems: number;
}

/**
 * Collects the calls of one turn of the event loop into batches: the first `add` of a turn
 * schedules a flush with `setImmediate`, so every call made while the current I/O callbacks run
 * (say, all the jobs a reply started) shares one round trip. Items settle in the order they were
 * added, within a batch and across batches, as long as `run` answers in call order (one
 * connection does).
 */
export class TickBatcher<T, R> {
  private queued: Array<{ item: T; resolve: (r: R) => void; reject: (e: Error) => void }> = [];

  constructor(private readonly o: TickBatcherOptions<T, R>) {}

  /** Queue `item` for the next flush; settles with its own slot of the batch's result. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.queued.length === 0) setImmediate(() => this.flush());
      this.queued.push({ item, resolve, reject });
    });
  }

  private flush(): void {
    const all = this.queued;
    this.queued = [];
    for (let i = 0; i < all.length; i += this.o.maxItems) {
      const part = all.slice(i, i + this.o.maxItems);
      let sent: Promise<Array<R | Error>>;
      try {
        sent = this.o.run(part.map((q) => q.item));
      } catch (err) {
        sent = Promise.reject(toError(err));
      }
      sent.then(
        (results) => {
          part.forEach((q, j) => {
            const r = results[j];
            if (r instanceof Error) q.reject(r);
            else if (j >= results.length) q.reject(new Error('batch returned too few results'));
            else q.resolve(r as R);
          });
        },
        (err: unknown) => {
          const e = toError(err);
          for (const q of part) q.reject(e);
        },
      );
    }
  }
}
