/**
 * A bounded push-to-pull buffer behind the client's async iterator. When the consumer falls more
 * than `max` notifications behind, the oldest are dropped and counted, so a client that ignores
 * the iterator cannot grow memory without bound.
 */
export class NotificationStream<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<(r: IteratorResult<T>) => void> = [];
  private ended = false;
  /** Notifications dropped because the buffer was full. */
  dropped = 0;

  constructor(private readonly max = 10_000) {}

  /** Deliver one notification (no-op after the stream ended). */
  push(value: T): void {
    if (this.ended) return;
    const resolve = this.waiting.shift();
    if (resolve) {
      resolve({ value, done: false });
      return;
    }
    if (this.buffer.length >= this.max) {
      this.buffer.shift();
      this.dropped += 1;
    }
    this.buffer.push(value);
  }

  /** End the stream: pending and future `next()` calls resolve as done. */
  end(): void {
    this.ended = true;
    this.buffer.length = 0;
    for (const resolve of this.waiting.splice(0)) resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.buffer.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Stop iterating (also what `break` in a `for await` calls). */
  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
