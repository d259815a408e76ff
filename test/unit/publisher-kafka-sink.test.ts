// KafkaSink logic with an in-memory EventProducer (a collaborator swap through the constructor;
// the Kafka behaviour itself is tested against the real broker in test/integration/pipeline-*).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KafkaPublishError } from '../../src/errors.js';
import type { EventRecord, KafkaReceipt } from '../../src/events/index.js';
import { KafkaSink, recordBytes, type EventProducer } from '../../src/publisher/index.js';

class MemoryProducer implements EventProducer {
  readonly sends: EventRecord[][] = [];
  failNext = 0;
  private offset = 0n;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  hold(): void {
    this.gate = new Promise((r) => (this.openGate = r));
  }
  release(): void {
    this.openGate?.();
    this.gate = null;
  }
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send(records: EventRecord[]): Promise<KafkaReceipt[]> {
    this.sends.push(records);
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('broker went away');
    }
    return records.map((r) => ({ topic: r.topic, partition: 0, offset: String(this.offset++) }));
  }
}

const rec = (i: number, size = 10): EventRecord => ({
  topic: 't',
  key: `k${i}`,
  value: 'v'.repeat(size),
  headers: {},
});

const sink = (
  producer: EventProducer,
  o: Partial<ConstructorParameters<typeof KafkaSink>[0]> = {},
) =>
  new KafkaSink({
    producer,
    lingerMs: 5,
    batchMaxCount: 1000,
    batchMaxBytes: 1_000_000,
    maxInflightBytes: 10_000_000,
    ...o,
  });

describe('KafkaSink', () => {
  it('coalesces concurrent publishes into one send and gives each caller its own offset', async () => {
    const p = new MemoryProducer();
    const s = sink(p);
    const receipts = await Promise.all(Array.from({ length: 50 }, (_, i) => s.publish(rec(i))));
    expect(p.sends).toHaveLength(1);
    expect(receipts.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  });

  it('splits at batchMaxCount', async () => {
    const p = new MemoryProducer();
    const s = sink(p, { batchMaxCount: 7, lingerMs: 1000 });
    await Promise.all(Array.from({ length: 21 }, (_, i) => s.publish(rec(i))));
    expect(p.sends.map((b) => b.length)).toEqual([7, 7, 7]);
  });

  it('splits at batchMaxBytes and sends an oversized record alone', async () => {
    const p = new MemoryProducer();
    const one = recordBytes(rec(0, 100));
    const s = sink(p, { batchMaxBytes: one * 3, lingerMs: 1000 });
    const all = [0, 1, 2, 3, 4].map((i) => s.publish(rec(i, 100)));
    all.push(s.publish({ ...rec(9), value: 'x'.repeat(one * 5) }));
    all.push(s.publish(rec(10, 100)));
    await s.flush();
    await Promise.all(all);
    expect(p.sends.map((b) => b.map((r) => r.key))).toEqual([
      ['k0', 'k1', 'k2'],
      ['k3', 'k4'],
      ['k9'],
      ['k10'],
    ]);
  });

  it('sends after the linger window when the batch is not full', async () => {
    const p = new MemoryProducer();
    const s = sink(p, { lingerMs: 30 });
    const pending = s.publish(rec(1));
    await new Promise((r) => setTimeout(r, 5));
    expect(p.sends).toHaveLength(0);
    await pending;
    expect(p.sends).toHaveLength(1);
  });

  describe('adaptive batching (lingerMs 0), on a fake clock', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('sends a lone record at once, without waiting for any window', async () => {
      vi.useFakeTimers();
      const p = new MemoryProducer();
      const s = sink(p, { lingerMs: 0 });
      const pending = s.publish(rec(1));
      expect(p.sends).toHaveLength(0); // not inside publish() itself: the same turn may add more
      await vi.advanceTimersByTimeAsync(0); // the clock does not move
      expect(p.sends.map((b) => b.length)).toEqual([1]);
      await expect(pending).resolves.toMatchObject({ offset: '0' });
    });

    it('records of the same event-loop turn share one request', async () => {
      vi.useFakeTimers();
      const p = new MemoryProducer();
      const s = sink(p, { lingerMs: 0 });
      const all = Array.from({ length: 30 }, (_, i) => s.publish(rec(i)));
      await vi.advanceTimersByTimeAsync(0);
      await Promise.all(all);
      expect(p.sends.map((b) => b.length)).toEqual([30]);
    });

    it('coalesces what arrives while a request is in flight into the next request, sent when it returns', async () => {
      vi.useFakeTimers();
      const p = new MemoryProducer();
      const s = sink(p, { lingerMs: 0 });
      p.hold();
      const first = s.publish(rec(0));
      await vi.advanceTimersByTimeAsync(0);
      expect(p.sends).toHaveLength(1);
      // Arrive one by one, in separate turns and across "time", while the first is in flight.
      const later: Array<Promise<unknown>> = [];
      for (let i = 1; i <= 5; i += 1) {
        later.push(s.publish(rec(i)));
        await vi.advanceTimersByTimeAsync(50);
      }
      expect(p.sends).toHaveLength(1); // nothing overtakes, nothing is sent alone
      p.release();
      await first;
      await Promise.all(later);
      expect(p.sends.map((b) => b.map((r) => r.key))).toEqual([
        ['k0'],
        ['k1', 'k2', 'k3', 'k4', 'k5'],
      ]);
    });

    it('with two request slots, a second request goes while the first is in flight', async () => {
      vi.useFakeTimers();
      const p = new MemoryProducer();
      const s = sink(p, { lingerMs: 0, maxConcurrentSends: 2 });
      p.hold();
      const a = s.publish(rec(0));
      await vi.advanceTimersByTimeAsync(0);
      const b = s.publish(rec(1));
      await vi.advanceTimersByTimeAsync(0);
      const c = s.publish(rec(2));
      const d = s.publish(rec(3));
      await vi.advanceTimersByTimeAsync(10);
      expect(p.sends.map((x) => x.length)).toEqual([1, 1]);
      p.release();
      await Promise.all([a, b, c, d]);
      expect(p.sends.map((x) => x.map((r) => r.key))).toEqual([['k0'], ['k1'], ['k2', 'k3']]);
    });

    it('a positive lingerMs still waits for company even when idle', async () => {
      vi.useFakeTimers();
      const p = new MemoryProducer();
      const s = sink(p, { lingerMs: 5 });
      const a = s.publish(rec(0));
      await vi.advanceTimersByTimeAsync(4);
      const b = s.publish(rec(1));
      expect(p.sends).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      await Promise.all([a, b]);
      expect(p.sends.map((x) => x.length)).toEqual([2]);
    });
  });

  it('rejects every caller of a failed request with a retriable KafkaPublishError and counts the streak', async () => {
    const p = new MemoryProducer();
    const s = sink(p);
    p.failNext = 2;
    const first = await Promise.allSettled([s.publish(rec(1)), s.publish(rec(2))]);
    for (const r of first) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as KafkaPublishError;
      expect(err).toBeInstanceOf(KafkaPublishError);
      expect(err.retriable).toBe(true);
      expect((err.cause as Error).message).toBe('broker went away');
    }
    expect(s.health.consecutiveFailures).toBe(1);
    await expect(s.publish(rec(3))).rejects.toBeInstanceOf(KafkaPublishError);
    expect(s.health.consecutiveFailures).toBe(2);
    await expect(s.publish(rec(4))).resolves.toMatchObject({ offset: '0' });
    expect(s.health).toEqual({ consecutiveFailures: 0 });
  });

  it('makes publish wait while in-flight bytes are at the bound', async () => {
    const p = new MemoryProducer();
    const size = recordBytes(rec(0, 100));
    const s = sink(p, { maxInflightBytes: size * 2, batchMaxBytes: size * 2, lingerMs: 0 });
    p.hold();
    const a = s.publish(rec(1, 100));
    const b = s.publish(rec(2, 100));
    let cDone = false;
    const c = s.publish(rec(3, 100)).then((r) => ((cDone = true), r));
    await new Promise((r) => setTimeout(r, 20));
    expect(s.bufferedBytes).toBe(size * 2);
    expect(cDone).toBe(false);
    expect(p.sends.flat().map((r) => r.key)).toEqual(['k1', 'k2']);
    p.release();
    await Promise.all([a, b, c]);
    expect(p.sends.flat().map((r) => r.key)).toEqual(['k1', 'k2', 'k3']);
    expect(s.bufferedBytes).toBe(0);
  });

  it('flush waits for everything; close refuses new records', async () => {
    const p = new MemoryProducer();
    const s = sink(p, { lingerMs: 10_000 });
    const pending = s.publish(rec(1));
    await s.flush();
    await expect(pending).resolves.toMatchObject({ offset: '0' });
    await s.close();
    await expect(s.publish(rec(2))).rejects.toThrow(/closed/);
  });

  it('orderedKeys: records of a failed key queued behind the failed request fail with it; other keys go on', async () => {
    const p = new MemoryProducer();
    const s = sink(p, { orderedKeys: true, batchMaxCount: 2, lingerMs: 0 });
    const heard: string[][] = [];
    s.onKeysFailed((keys) => heard.push([...keys]));
    p.hold();
    p.failNext = 1;
    // First request: a1, b1. Queued behind it: a2, c1 and then a3.
    const a1 = s.publish({ ...rec(1), key: 'a' });
    const b1 = s.publish({ ...rec(2), key: 'b' });
    const a2 = s.publish({ ...rec(3), key: 'a' });
    const c1 = s.publish({ ...rec(4), key: 'c' });
    const a3 = s.publish({ ...rec(5), key: 'a' });
    p.release();
    await expect(a1).rejects.toThrow(KafkaPublishError);
    await expect(b1).rejects.toThrow(KafkaPublishError);
    await expect(a2).rejects.toThrow(KafkaPublishError);
    await expect(a3).rejects.toThrow(KafkaPublishError);
    await expect(c1).resolves.toMatchObject({ topic: 't' });
    expect(heard).toEqual([['a', 'b']]);
    // Only c1 was sent after the failed request; nothing of 'a' or 'b' overtook it.
    expect(
      p.sends
        .slice(1)
        .flat()
        .map((r) => r.key),
    ).toEqual(['c']);
    expect(s.bufferedBytes).toBe(0);
  });

  it('orderedKeys needs one request in flight', () => {
    expect(() => sink(new MemoryProducer(), { orderedKeys: true, maxConcurrentSends: 2 })).toThrow(
      /maxConcurrentSends 1/,
    );
  });
});
