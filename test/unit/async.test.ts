import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  Backoff,
  backoffDelay,
  retry,
  safeEmitError,
  sleep,
  TickBatcher,
  toError,
  withTimeout,
} from '../../src/async.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Settles a promise's state into a flag, so a test can look at it between clock steps. */
function track<T>(p: Promise<T>): { settled: () => 'pending' | 'resolved' | 'rejected' } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  return { settled: () => state };
}

describe('sleep', () => {
  it('resolves after the delay and not before', async () => {
    const t = track(sleep(100));
    await vi.advanceTimersByTimeAsync(99);
    expect(t.settled()).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(t.settled()).toBe('resolved');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves at once when its signal fires, and clears its timer', async () => {
    const controller = new AbortController();
    const t = track(sleep(10_000, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.settled()).toBe('resolved');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves at once for a signal that already fired', async () => {
    const controller = new AbortController();
    controller.abort();
    const t = track(sleep(10_000, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(0);
    expect(t.settled()).toBe('resolved');
  });
});

describe('withTimeout', () => {
  it('passes the value through and clears its timer', async () => {
    await expect(withTimeout(Promise.resolve(7), 50, 'late')).resolves.toBe(7);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes a rejection through', async () => {
    await expect(withTimeout(Promise.reject(new Error('boom')), 50, 'late')).rejects.toThrow(
      'boom',
    );
  });

  it('rejects with the given message when the promise is too slow', async () => {
    const slow = new Promise<number>(() => undefined);
    const p = withTimeout(slow, 50, 'took too long');
    const assertion = expect(p).rejects.toThrow('took too long');
    await vi.advanceTimersByTimeAsync(50);
    await assertion;
  });

  it('rejects with the error a factory builds, and ignores a late rejection', async () => {
    class LateError extends Error {}
    let rejectLate: (err: Error) => void = () => undefined;
    const slow = new Promise<number>((_, reject) => (rejectLate = reject));
    const p = withTimeout(slow, 50, () => new LateError('late'));
    const assertion = expect(p).rejects.toBeInstanceOf(LateError);
    await vi.advanceTimersByTimeAsync(50);
    await assertion;
    // Must not surface as an unhandled rejection.
    rejectLate(new Error('after the timeout'));
    await vi.advanceTimersByTimeAsync(0);
  });
});

describe('safeEmitError', () => {
  it('emits to a listener', () => {
    const emitter = new EventEmitter();
    const seen: Error[] = [];
    const fallback = vi.fn();
    emitter.on('error', (e: Error) => seen.push(e));
    safeEmitError(emitter, new Error('x'), fallback);
    expect(seen.map((e) => e.message)).toEqual(['x']);
    expect(fallback).not.toHaveBeenCalled();
  });

  it('falls back without a listener (no throw), and wraps a thrown non-error', () => {
    const emitter = new EventEmitter();
    const fallback = vi.fn();
    expect(() => safeEmitError(emitter, 'plain string', fallback)).not.toThrow();
    expect(fallback).toHaveBeenCalledOnce();
    expect((fallback.mock.calls[0]?.[0] as Error).message).toBe('plain string');
  });

  it('survives a listener that throws, and falls back', () => {
    const emitter = new EventEmitter();
    emitter.on('error', () => {
      throw new Error('listener broke');
    });
    const fallback = vi.fn();
    expect(() => safeEmitError(emitter, new Error('x'), fallback)).not.toThrow();
    expect(fallback).toHaveBeenCalledOnce();
  });
});

describe('backoff', () => {
  it('grows exponentially up to the cap', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(10_000, { initialMs: 1 })).toBeLessThan(Infinity);
  });

  it('draws the jittered delay from [delay × (1 − jitter), delay]', () => {
    const base = { initialMs: 1000, jitter: 0.5 };
    expect(backoffDelay(1, { ...base, random: () => 0 })).toBe(1000);
    expect(backoffDelay(1, { ...base, random: () => 0.999_999 })).toBe(500);
    expect(backoffDelay(2, { ...base, random: () => 0.5 })).toBe(1500);
  });

  it('Backoff starts over after reset()', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 2000 });
    expect([b.next(), b.next(), b.next()]).toEqual([100, 200, 400]);
    b.reset();
    expect(b.next()).toBe(100);
  });
});

describe('retry', () => {
  it('retries with the backoff until the call succeeds', async () => {
    const calls: number[] = [];
    const p = retry(
      async (attempt) => {
        calls.push(Date.now());
        if (attempt < 3) throw new Error(`fail ${attempt}`);
        return 'ok';
      },
      { retries: 5, initialMs: 100 },
    );
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(200);
    await expect(p).resolves.toBe('ok');
    expect(calls.map((t) => t - start)).toEqual([0, 100, 300]);
  });

  it('throws the last error once the retries are used up', async () => {
    let n = 0;
    const p = retry(
      async () => {
        n += 1;
        throw new Error(`fail ${n}`);
      },
      { retries: 2, initialMs: 10 },
    );
    const assertion = expect(p).rejects.toThrow('fail 3');
    await vi.advanceTimersByTimeAsync(1000);
    await assertion;
    expect(n).toBe(3);
  });

  it('does not retry an error that is not retriable', async () => {
    let n = 0;
    const p = retry(
      async () => {
        n += 1;
        throw new TypeError('bad input');
      },
      { retries: 5, initialMs: 10, retriable: (err) => !(err instanceof TypeError) },
    );
    await expect(p).rejects.toThrow('bad input');
    expect(n).toBe(1);
  });

  it('waits what the error asks for, and reports each retry', async () => {
    const seen: Array<[number, number]> = [];
    let n = 0;
    const p = retry(
      async () => {
        n += 1;
        if (n === 1) throw Object.assign(new Error('busy'), { retryAfterMs: 5000 });
        return n;
      },
      {
        retries: Infinity,
        initialMs: 10,
        delayOf: (err) => (err as { retryAfterMs?: number }).retryAfterMs,
        onRetry: (_err, attempt, delayMs) => seen.push([attempt, delayMs]),
      },
    );
    await vi.advanceTimersByTimeAsync(4999);
    expect(n).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe(2);
    expect(seen).toEqual([[1, 5000]]);
  });

  it('stops waiting and throws once its signal fires', async () => {
    const controller = new AbortController();
    const p = retry(
      async () => {
        throw new Error('down');
      },
      { retries: Infinity, initialMs: 60_000, signal: controller.signal },
    );
    const assertion = expect(p).rejects.toThrow('down');
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    await vi.advanceTimersByTimeAsync(0);
    await assertion;
  });
});

describe('toError', () => {
  it('keeps errors and wraps anything else', () => {
    const e = new Error('x');
    expect(toError(e)).toBe(e);
    expect(toError(42).message).toBe('42');
  });
});

describe('TickBatcher', () => {
  // setImmediate is real here: the batch boundary is a turn of the event loop, not a timer.
  beforeEach(() => {
    vi.useRealTimers();
  });

  it('sends the calls of one turn as one batch and settles each with its own slot', async () => {
    const batches: number[][] = [];
    const b = new TickBatcher<number, string>({
      maxItems: 100,
      run: (items) => {
        batches.push(items);
        return Promise.resolve(items.map((i) => (i === 3 ? new Error('no 3') : `#${i}`)));
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => b.add(i)));
    expect(batches).toEqual([[1, 2, 3, 4]]);
    expect(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    ).toEqual(['#1', '#2', 'no 3', '#4']);
    await b.add(5);
    expect(batches).toEqual([[1, 2, 3, 4], [5]]);
  });

  it('splits a large batch into parts of maxItems, sent and settled in order', async () => {
    const batches: number[][] = [];
    const settled: number[] = [];
    const b = new TickBatcher<number, number>({
      maxItems: 2,
      run: (items) => {
        batches.push(items);
        return Promise.resolve(items);
      },
    });
    await Promise.all([1, 2, 3, 4, 5].map((i) => b.add(i).then((r) => settled.push(r))));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(settled).toEqual([1, 2, 3, 4, 5]);
  });

  it('rejects every item of a batch whose run fails or answers too few', async () => {
    const failing = new TickBatcher<number, number>({
      maxItems: 10,
      run: () => Promise.reject(new Error('down')),
    });
    const a = await Promise.allSettled([failing.add(1), failing.add(2)]);
    expect(a.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const throwing = new TickBatcher<number, number>({
      maxItems: 10,
      run: () => {
        throw new Error('sync');
      },
    });
    await expect(throwing.add(1)).rejects.toThrow('sync');
    const short = new TickBatcher<number, number>({
      maxItems: 10,
      run: () => Promise.resolve([1]),
    });
    const c = await Promise.allSettled([short.add(1), short.add(2)]);
    expect(c.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });
});
