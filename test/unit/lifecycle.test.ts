import { afterEach, describe, expect, it } from 'vitest';
import {
  FORCED_EXIT_CODE,
  Releasers,
  installShutdown,
  onShutdownSignals,
} from '../../src/lifecycle/lifecycle.js';
import { SignalGate } from '../../src/lifecycle/signal-gate.js';
import { silentLogger } from '../../src/logger.js';

describe('SignalGate', () => {
  it('counts copies of one delivery as one request, and a later signal as a second', () => {
    let now = 1_000;
    const gate = new SignalGate({ sameDeliveryMs: 1000, now: () => now });
    expect(gate.receive()).toBe('shutdown');
    now += 5;
    expect(gate.receive()).toBe('duplicate');
    now += 994;
    expect(gate.receive()).toBe('duplicate');
    now += 1;
    expect(gate.receive()).toBe('force');
    now += 10_000;
    expect(gate.receive()).toBe('force');
  });
});

describe('installShutdown', () => {
  let remove: (() => void) | undefined;
  afterEach(() => remove?.());

  it('starts one shutdown for a doubled signal and exits at once on a later one', async () => {
    const exits: number[] = [];
    let closes = 0;
    const never = {
      name: 'slow part',
      close: () => {
        closes += 1;
        return new Promise<void>(() => undefined);
      },
    };
    remove = installShutdown([never], silentLogger(), {
      exit: (code) => exits.push(code),
      sameDeliveryMs: 200,
    });
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGTERM', 'SIGTERM');
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toBe(1);
    expect(exits).toEqual([]);
    await new Promise((r) => setTimeout(r, 250));
    process.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([FORCED_EXIT_CODE]);
    expect(FORCED_EXIT_CODE).toBe(130);
  });
});

describe('Releasers', () => {
  it('releases last added first, each once, and goes on past a failure', async () => {
    const order: string[] = [];
    const releasers = new Releasers(silentLogger());
    releasers.add('redis', () => order.push('redis'));
    releasers.add('publisher', async () => {
      order.push('publisher');
      throw new Error('flush failed');
    });
    releasers.add('worker', async () => order.push('worker'));
    expect(releasers.size).toBe(3);
    expect(await releasers.releaseAll()).toBe(false);
    expect(order).toEqual(['worker', 'publisher', 'redis']);
    expect(await releasers.releaseAll()).toBe(true);
    expect(order).toHaveLength(3);
  });
});

describe('onShutdownSignals', () => {
  let remove: (() => void) | undefined;
  afterEach(() => remove?.());

  it('exits 0 after a clean stop and 1 after a stop that failed', async () => {
    for (const [stop, code] of [
      [async () => true, 0],
      [async () => false, 1],
      [() => Promise.reject(new Error('boom')), 1],
    ] as const) {
      const exits: number[] = [];
      remove = onShutdownSignals(stop, silentLogger(), { exit: (c) => exits.push(c) });
      process.emit('SIGTERM', 'SIGTERM');
      await new Promise((r) => setImmediate(r));
      expect(exits).toEqual([code]);
      remove();
      remove = undefined;
    }
  });

  it('closes in the order given by installShutdown', async () => {
    const order: string[] = [];
    const exits: number[] = [];
    const part = (name: string) => ({ name, close: async () => void order.push(name) });
    remove = installShutdown([part('worker'), part('publisher'), part('redis')], silentLogger(), {
      exit: (c) => exits.push(c),
    });
    process.emit('SIGINT', 'SIGINT');
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(['worker', 'publisher', 'redis']);
    expect(exits).toEqual([0]);
  });
});
